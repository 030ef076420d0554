//! The servers' log line when it goes to a file or a pipe: the text of
//! `tracing_subscriber::fmt`'s default ("full") format, written without its per-piece styling
//! and with the date of the current second formatted once per second.
//!
//! `2026-11-29T18:32:34.696211Z  INFO request{http.method=POST http.path=/token}:
//! auth_server::endpoints::token: token issued client.id=mcp-service dpop=false` (one line).
//!
//! Why (issue 16 C): the audit line `token issued` cost ~7 µs of the token endpoint's ~46 µs
//! on one core; the default format paints every piece through `nu_ansi_term` even when colours
//! are off (~5k instructions per line) and formats the whole date for every line (~2k).
//! Fields (events' and spans') are written by [`PlainFields`], the text of
//! `tracing_subscriber`'s `DefaultFields` (`message` first and bare, `key=value` with `Debug`
//! values, so strings quoted, `%` values as `Display`, `log.*` fields skipped, raw `r#`
//! names unprefixed, error sources listed) without the styling. A terminal keeps the default
//! (coloured) format.

use std::cell::RefCell;
use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PlainLine;

impl<S, N> FormatEvent<S, N> for PlainLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_now(&mut w)?;
        let meta = event.metadata();
        w.write_str(level_text(*meta.level()))?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                w.write_str(span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    w.write_char('{')?;
                    w.write_str(fields)?;
                    w.write_char('}')?;
                }
                w.write_char(':')?;
            }
            w.write_char(' ')?;
        }
        w.write_str(meta.target())?;
        w.write_str(": ")?;
        ctx.format_fields(w.by_ref(), event)?;
        w.write_char('\n')
    }
}

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = PlainVisitor {
            w: writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct PlainVisitor<'w> {
    w: Writer<'w>,
    empty: bool,
    result: fmt::Result,
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        match value.source() {
            Some(source) => self.record_debug(
                field,
                &format_args!("{value} {}.sources={}", field.name(), SourceList(source)),
            ),
            None => self.record_debug(field, &format_args!("{value}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return; // log metadata, already in the line's target and level
        }
        let w = &mut self.w;
        self.result = (|| {
            if !std::mem::take(&mut self.empty) {
                w.write_char(' ')?;
            }
            if name != "message" {
                w.write_str(name.strip_prefix("r#").unwrap_or(name))?;
                w.write_char('=')?;
            }
            write!(w, "{value:?}")
        })();
    }
}

/// `[source, its source, ...]`, as `DefaultFields` lists an error's sources.
struct SourceList<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for SourceList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut next = Some(self.0);
        while let Some(e) = next {
            list.entry(&format_args!("{e}"));
            next = e.source();
        }
        list.finish()
    }
}

/// The level as the default format writes it, with the spaces around it (right-aligned in
/// five columns).
fn level_text(level: Level) -> &'static str {
    match level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

thread_local! {
    /// The second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes the current UTC time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, as the
/// default format).
fn write_now(w: &mut Writer<'_>) -> fmt::Result {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    write_time(w, now.as_secs(), now.subsec_micros())
}

fn write_time(w: &mut impl fmt::Write, secs: u64, micros: u32) -> fmt::Result {
    SECOND.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            c.1.clear();
            let _ = write_date_time(&mut c.1, secs);
            c.0 = secs;
        }
        w.write_str(&c.1)
    })?;
    write!(w, ".{micros:06}Z")
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the Unix epoch (UTC; proleptic Gregorian calendar,
/// days to civil date after Howard Hinnant's `civil_from_days`).
fn write_date_time(w: &mut impl fmt::Write, secs: u64) -> fmt::Result {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    write!(
        w,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// The same events, spans and fields through the default format (no colours) and through
    /// `PlainLine` + `PlainFields`: the lines are equal but for the time.
    #[test]
    fn lines_equal_the_default_format_without_colours() {
        fn emit() {
            let span = tracing::info_span!("request", http.method = %"POST", http.path = %"/token");
            let _g = span.enter();
            let inner = tracing::info_span!("inner", r#type = "x", n = 3_u32);
            let _h = inner.enter();
            tracing::info!(client.id = %"mcp-service", oauth.grant_type = "client_credentials", dpop = false, "token issued");
            tracing::warn!(quote = "a \"b\"\n", "odd \"message\"");
            let e = Outer(std::io::Error::other("inner cause"));
            tracing::error!(error = &e as &(dyn std::error::Error + 'static), "failed");
            drop(_h);
            inner.record("n", 4_u32);
            tracing::debug!(empty = "", "debug line");
        }
        let def = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(Level::TRACE)
            .with_writer(def.clone())
            .finish();
        tracing::subscriber::with_default(sub, emit);
        let plain = Buf::default();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(Level::TRACE)
            .fmt_fields(PlainFields)
            .event_format(PlainLine)
            .with_writer(plain.clone())
            .finish();
        tracing::subscriber::with_default(sub, emit);
        let strip = |b: &Buf| {
            String::from_utf8(b.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| l.split_once('Z').map(|(_, rest)| rest.to_owned()).unwrap())
                .collect::<Vec<_>>()
        };
        let (d, p) = (strip(&def), strip(&plain));
        assert_eq!(d.len(), 4, "{d:?}");
        assert_eq!(d, p);
        let target = module_path!();
        assert_eq!(
            p[0],
            format!(
                "  INFO request{{http.method=POST http.path=/token}}:inner{{type=\"x\" n=3}}: \
                 {target}: token issued client.id=mcp-service \
                 oauth.grant_type=\"client_credentials\" dpop=false"
            )
        );
        assert!(
            p[2].ends_with("failed error=outer failed error.sources=[inner cause]"),
            "{}",
            p[2]
        );
    }

    fn at(secs: u64, micros: u32) -> String {
        let mut s = String::new();
        write_time(&mut s, secs, micros).unwrap();
        s
    }

    #[test]
    fn dates_match_the_calendar() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_827_696, 7), "2000-02-29T12:34:56.000007Z");
        assert_eq!(at(951_868_800, 0), "2000-03-01T00:00:00.000000Z");
        assert_eq!(at(1_796_063_554, 696_211), "2026-11-30T18:32:34.696211Z");
        assert_eq!(at(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z"); // 2100: no 29 Feb
        // The cached second is replaced when the second changes, whatever the order.
        assert_eq!(at(0, 1), "1970-01-01T00:00:00.000001Z");
    }

    /// Every day from 1970 to 2400 agrees with a day-by-day count of the calendar.
    #[test]
    fn every_day_agrees_with_a_calendar_walk() {
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for day in 0..(430 * 366) {
            let mut s = String::new();
            write_date_time(&mut s, day * 86_400).unwrap();
            assert_eq!(s, format!("{y:04}-{m:02}-{d:02}T00:00:00"), "day {day}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[(m - 1) as usize] {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
