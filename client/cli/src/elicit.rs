//! The CLI's answer to a server's elicitation (2026-07-28 multi round-trip requests, PR-26):
//! on an interactive terminal, the server's message and a prompt per field of its
//! `requestedSchema` on stderr, answers read from stdin; with `--json` or when stdin is not a
//! terminal, a clean decline (`{"action": "decline"}`), so scripts never hang on a prompt.
//! Sampling and roots are not offered (the CLI has no model and no roots).

use std::io::{BufRead, IsTerminal as _, Write};
use std::sync::Arc;

use http_oauth2_client::mcp::{ElicitResponse, InputCapabilities, InputHandler, async_trait};
use serde_json::{Map, Value};

/// Wrong answers to one field before the elicitation is cancelled.
const MAX_TRIES: usize = 3;

/// The CLI's [`InputHandler`].
#[derive(Debug)]
struct Terminal {
    interactive: bool,
}

/// The handler for this process: interactive when stdin and stderr are terminals and the
/// output is not `--json`.
pub(crate) fn handler(json_out: bool) -> Arc<dyn InputHandler> {
    let interactive =
        !json_out && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    Arc::new(Terminal { interactive })
}

#[async_trait]
impl InputHandler for Terminal {
    fn capabilities(&self) -> InputCapabilities {
        InputCapabilities::default().with_elicitation()
    }

    async fn elicit(&self, params: &Value) -> ElicitResponse {
        if !self.interactive {
            tracing::info!("elicitation declined: not an interactive terminal (or --json)");
            return ElicitResponse::Decline;
        }
        let params = params.clone();
        tokio::task::spawn_blocking(move || {
            let stdin = std::io::stdin();
            ask(&params, &mut stdin.lock(), &mut std::io::stderr())
        })
        .await
        .unwrap_or(ElicitResponse::Cancel)
    }
}

/// Reads one line; `None` at end of input or on an error.
fn read_line(input: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

/// One field's value from the user's text, or why it does not fit.
fn parse_field(schema: &Value, text: &str) -> Result<Value, String> {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return options
            .iter()
            .find(|o| o.as_str() == Some(text))
            .cloned()
            .ok_or_else(|| format!("one of {}", Value::Array(options.clone())));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("boolean") => match text.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" => Ok(Value::Bool(true)),
            "n" | "no" | "false" => Ok(Value::Bool(false)),
            _ => Err("yes or no".into()),
        },
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "an integer".into()),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .ok_or_else(|| "a number".into()),
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// The dialogue: the message, accept / decline / cancel, then a prompt per field (required
/// ones first). End of input cancels.
pub(crate) fn ask(
    params: &Value,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> ElicitResponse {
    let message = params["message"]
        .as_str()
        .unwrap_or("The server asks for input.");
    let _ = writeln!(out, "\nThe MCP server asks: {message}");
    let _ = write!(out, "Answer? [a]ccept / [d]ecline / [c]ancel (a): ");
    let _ = out.flush();
    match read_line(input).map(|l| l.trim().to_ascii_lowercase()) {
        None => return ElicitResponse::Cancel,
        Some(l) if l == "d" || l == "decline" => return ElicitResponse::Decline,
        Some(l) if l == "c" || l == "cancel" => return ElicitResponse::Cancel,
        Some(l) if l.is_empty() || l == "a" || l == "accept" => {}
        Some(_) => return ElicitResponse::Cancel,
    }
    let schema = &params["requestedSchema"];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let empty = Map::new();
    let props = schema["properties"].as_object().unwrap_or(&empty);
    let mut fields: Vec<(&String, &Value)> = props.iter().collect();
    fields.sort_by_key(|(name, _)| !required.contains(&name.as_str()));
    let mut content = Map::new();
    for (name, field) in fields {
        let is_required = required.contains(&name.as_str());
        let label = field["title"].as_str().unwrap_or(name);
        let kind = field["type"].as_str().unwrap_or("string");
        let mut done = false;
        for _ in 0..MAX_TRIES {
            let _ = write!(
                out,
                "{label} ({kind}{}): ",
                if is_required { "" } else { ", optional" }
            );
            let _ = out.flush();
            let Some(text) = read_line(input) else {
                return ElicitResponse::Cancel;
            };
            if text.is_empty() && !is_required {
                done = true;
                break;
            }
            match parse_field(field, &text) {
                Ok(v) => {
                    content.insert(name.clone(), v);
                    done = true;
                    break;
                }
                Err(expected) => {
                    let _ = writeln!(out, "  expected {expected}");
                }
            }
        }
        if !done {
            return ElicitResponse::Cancel;
        }
    }
    ElicitResponse::Accept(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> Value {
        json!({"message": "Book a table", "requestedSchema": {"type": "object",
            "properties": {
                "confirm": {"type": "boolean", "title": "Confirm"},
                "guests": {"type": "integer"},
                "note": {"type": "string"},
                "size": {"type": "string", "enum": ["s", "m"]},
            },
            "required": ["confirm", "guests", "size"]}})
    }

    fn run(input: &str) -> (ElicitResponse, String) {
        let mut out = Vec::new();
        let r = ask(&form(), &mut input.as_bytes(), &mut out);
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_prompt_per_field_with_retries_pr26() {
        let (r, out) = run("\nyes\nmany\n4\nm\n\n");
        let ElicitResponse::Accept(c) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            Value::Object(c),
            json!({"confirm": true, "guests": 4, "size": "m"})
        );
        assert!(out.contains("The MCP server asks: Book a table"), "{out}");
        assert!(out.contains("expected an integer"), "{out}");
        assert!(out.contains("note (string, optional)"), "{out}");
    }

    #[test]
    fn decline_cancel_and_end_of_input() {
        assert_eq!(run("d\n").0, ElicitResponse::Decline);
        assert_eq!(run("c\n").0, ElicitResponse::Cancel);
        assert_eq!(run("").0, ElicitResponse::Cancel);
        assert_eq!(run("a\nyes\n").0, ElicitResponse::Cancel);
        assert_eq!(run("a\nmaybe\nmaybe\nmaybe\n").0, ElicitResponse::Cancel);
    }

    #[tokio::test]
    async fn not_interactive_declines() {
        let h = Terminal { interactive: false };
        assert_eq!(h.elicit(&form()).await, ElicitResponse::Decline);
        assert!(h.capabilities().elicitation);
    }
}
