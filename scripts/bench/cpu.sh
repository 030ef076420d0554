# Sourced by scripts/bench.sh and scripts/ladder.sh: CPU time per request (issue 16 C).
#
# req/s alone says how fast wrk and the server were together; when wrk saturates its core
# first (bare hyper on this VM), the rate ratio understates the gap. The server's own CPU
# time per request does not depend on who the bottleneck was.

# cpu_ns PID: CPU time of process PID so far, in ns: the sum over its threads of the first
# field of /proc/PID/task/*/schedstat (time spent on a CPU; nanosecond resolution, where
# /proc/PID/stat counts 10 ms ticks). A thread that exits during a run takes its time with
# it; the servers measured here run a fixed set of threads.
cpu_ns() {
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'
}

# measured_wrk PID WRK_ARGS...: runs `taskset -c 1 wrk WRK_ARGS...` (environment passed on)
# and prints wrk's output, then one last line
#   cpu: REQUESTS SERVER_CPU_US_PER_REQUEST SERVER_UTIL WRK_UTIL
# SERVER_CPU: PID's CPU time over the run divided by wrk's request count; SERVER_UTIL: that
# time divided by the run's wall time (1.00 = the server's one core was always busy); WRK_UTIL:
# wrk's own user+sys time (bash `times`, children) divided by the wall time (near 1.00: wrk
# was the bottleneck). PID empty: the server fields are "-".
measured_wrk() {
  local pid="$1"; shift
  local c0="" c1="" t0 t1 out
  if [ -n "$pid" ]; then c0="$(cpu_ns "$pid")"; fi
  t0="$(date +%s%N)"
  out="$(taskset -c 1 wrk "$@" 2>&1; times)"
  t1="$(date +%s%N)"
  if [ -n "$pid" ]; then c1="$(cpu_ns "$pid")"; fi
  # Everything but the two lines of `times`.
  printf '%s\n' "$out" | head -n -2
  printf '%s\n' "$out" | tail -n 1 | awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
    -v n="$(printf '%s\n' "$out" | awk '/requests in/ { print $1; exit }')" '
    function secs(t,  b) { sub(/s$/, "", t); split(t, b, "m"); return b[1] * 60 + b[2] }
    {
      wall = (t1 - t0) / 1e9
      w = secs($1) + secs($2)
      if (c0 == "" || n == "" || n == 0) { cpu = "-"; util = "-" }
      else { cpu = sprintf("%.2f", (c1 - c0) / 1e3 / n); util = sprintf("%.2f", (c1 - c0) / 1e9 / wall) }
      printf "cpu: %s %s %s %.2f\n", (n == "" ? 0 : n), cpu, util, w / wall
    }'
}

# cost_ratio REF_CPU THIS_CPU: REF_CPU / THIS_CPU (µs per request; "-" when unknown). Like the
# rate ratio, 1.00 means as cheap as the reference.
cost_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'
}
