-- wrk script: stateless (2026-07-28) tools/call "echo" with a DPoP-bound token
-- ("Authorization: DPoP <token>" from $TOKEN_FILE) and a DPoP proof per request, each proof
-- from $PROOFS_FILE used exactly once (the server refuses a replayed jti, so cycling would
-- measure 401s). Proofs are made beforehand by `tests/examples/dpop_bench_inputs.rs`: the
-- server still verifies every one (signature, htm/htu, ath, iat, cnf.jkt, replay insert);
-- only the client's signing cost is moved out of the measurement. When the proofs run out
-- wrk aborts with "proofs exhausted" (no figures rather than wrong ones): make $PROOFS_FILE
-- longer than rate x duration.
local token = io.open(os.getenv("TOKEN_FILE")):read("*l")
local proofs = {}
for line in io.lines(os.getenv("PROOFS_FILE")) do proofs[#proofs + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "DPoP " .. token
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "echo"
request = function()
  i = i + 1
  if i > #proofs then error("proofs exhausted: raise PROOFS") end
  wrk.headers["DPoP"] = proofs[i]
  return wrk.format()
end
response = function(status, headers, body)
  if status ~= 200 then error("unexpected status " .. status) end
end
