//! Custom headers from tool parameters (2026-07-28; checklist TR-21, TR-19): a tool whose
//! `inputSchema` annotates a property with `x-mcp-header: "Name"` gets that argument mirrored
//! into an `Mcp-Param-Name` header on every `tools/call` (strings as they are, booleans as
//! `true`/`false`, integers in decimal, each encoded per TR-19; a null or absent argument
//! sends no header).
//!
//! The annotations are learnt from `tools/list`. A tool whose annotations break the rules
//! (not a token, duplicated case-insensitively, on a `number`, object or array, or reachable
//! other than through `properties` from the root) is dropped from the list with a warning
//! event; the schema is only read, never dereferenced (`$ref` is not followed).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use shared::mcp::X_MCP_HEADER;

use super::streamable::header_value;
use shared::mcp::header_value::param_text;

/// One annotated argument: its path of `properties` names and its header name.
#[derive(Debug)]
struct ParamHeader {
    path: Vec<String>,
    header: http::HeaderName,
}

/// The `x-mcp-header` annotations of the listed tools, by tool name.
#[derive(Debug, Default)]
pub(crate) struct ToolHeaders(RwLock<HashMap<String, Arc<[ParamHeader]>>>);

/// JSON Schema keywords whose value is one subschema, a list of them, or a map of them
/// (entering any of them leaves the `properties` chain).
const SINGLE: &[&str] = &[
    "items",
    "contains",
    "unevaluatedItems",
    "additionalProperties",
    "propertyNames",
    "unevaluatedProperties",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
];
const LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
const MAP: &[&str] = &[
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];
/// Schema nesting walked at most (deeper schemas are refused, not followed).
const MAX_DEPTH: usize = 64;

/// RFC 9110 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The valid annotations of `schema` (path, token), or why the tool must be dropped.
fn annotations(schema: &Value) -> Result<Vec<(Vec<String>, String)>, String> {
    let mut found: Vec<(Vec<String>, String)> = Vec::new();
    // (path from the root through `properties` only, or None once off that chain; node; depth)
    let mut stack: Vec<(Option<Vec<String>>, &Value, usize)> = vec![(Some(Vec::new()), schema, 0)];
    while let Some((path, node, depth)) = stack.pop() {
        let Some(obj) = node.as_object() else {
            continue;
        };
        if depth > MAX_DEPTH {
            return Err("inputSchema nested too deeply".into());
        }
        if let Some(token) = obj.get(X_MCP_HEADER) {
            let Some(path) = path.as_ref().filter(|p| !p.is_empty()) else {
                return Err("x-mcp-header outside a properties chain from the root".into());
            };
            let where_ = path.join(".");
            let Some(token) = token.as_str().filter(|t| is_token(t)) else {
                return Err(format!("x-mcp-header of `{where_}` is not an HTTP token"));
            };
            match obj.get("type").and_then(Value::as_str) {
                Some("string" | "integer" | "boolean") => {}
                _ => {
                    return Err(format!(
                        "x-mcp-header of `{where_}` is not on a string, integer or boolean"
                    ));
                }
            }
            if found.iter().any(|(_, t)| t.eq_ignore_ascii_case(token)) {
                return Err(format!("x-mcp-header `{token}` is used twice"));
            }
            found.push((path.clone(), token.to_owned()));
        }
        for (k, v) in obj {
            if k == "properties" {
                if let Some(props) = v.as_object() {
                    for (name, sub) in props {
                        let p = path.as_ref().map(|p| {
                            let mut p = p.clone();
                            p.push(name.clone());
                            p
                        });
                        stack.push((p, sub, depth + 1));
                    }
                }
            } else if SINGLE.contains(&k.as_str()) {
                stack.push((None, v, depth + 1));
            } else if LIST.contains(&k.as_str()) {
                for sub in v.as_array().into_iter().flatten() {
                    stack.push((None, sub, depth + 1));
                }
            } else if MAP.contains(&k.as_str()) {
                for sub in v.as_object().into_iter().flat_map(|m| m.values()) {
                    stack.push((None, sub, depth + 1));
                }
            }
        }
    }
    Ok(found)
}

impl ToolHeaders {
    /// Records the annotations of `tools` and returns the tools minus the ones whose
    /// annotations break the rules (each dropped with a warning event).
    pub(crate) fn learn(&self, tools: Vec<Value>) -> Vec<Value> {
        let mut map = HashMap::new();
        let mut kept = Vec::with_capacity(tools.len());
        for tool in tools {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
            match annotations(tool.get("inputSchema").unwrap_or(&Value::Null)) {
                Err(reason) => {
                    tracing::warn!(
                        mcp.tool = name.chars().take(64).collect::<String>(),
                        reason,
                        "tool dropped: its x-mcp-header annotations break the rules (TR-21)"
                    );
                    continue;
                }
                Ok(found) if found.is_empty() => {}
                Ok(found) => {
                    let headers: Vec<ParamHeader> = found
                        .into_iter()
                        .filter_map(|(path, token)| {
                            let header = http::HeaderName::try_from(format!(
                                "{}{}",
                                shared::mcp::header::PARAM_PREFIX,
                                token.to_ascii_lowercase()
                            ))
                            .ok()?;
                            Some(ParamHeader { path, header })
                        })
                        .collect();
                    map.insert(name.to_owned(), headers.into());
                }
            }
            kept.push(tool);
        }
        if let Ok(mut g) = self.0.write() {
            *g = map;
        }
        kept
    }

    /// The `Mcp-Param-*` headers of a `tools/call` of `tool` with `arguments`.
    pub(crate) fn headers_for(
        &self,
        tool: &str,
        arguments: &Value,
    ) -> Vec<(http::HeaderName, String)> {
        let spec = match self.0.read() {
            Ok(g) => match g.get(tool) {
                Some(s) => s.clone(),
                None => return Vec::new(),
            },
            Err(_) => return Vec::new(),
        };
        spec.iter()
            .filter_map(|p| {
                let v = p
                    .path
                    .iter()
                    .try_fold(arguments, |node, key| node.get(key.as_str()))?;
                Some((p.header.clone(), header_value(&param_text(v)?)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, props: Value) -> Value {
        json!({"name": name, "inputSchema": {"type": "object", "properties": props}})
    }

    #[test]
    fn invalid_annotations_drop_the_tool_tr21() {
        let th = ToolHeaders::default();
        let good = tool(
            "good",
            json!({
                "region": {"type": "string", "x-mcp-header": "Region"},
                "opts": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}}},
                "n": {"type": "integer", "x-mcp-header": "N"},
            }),
        );
        let bad = [
            tool(
                "not_token",
                json!({"a": {"type": "string", "x-mcp-header": "A B"}}),
            ),
            tool(
                "number",
                json!({"a": {"type": "number", "x-mcp-header": "A"}}),
            ),
            tool(
                "object",
                json!({"a": {"type": "object", "x-mcp-header": "A"}}),
            ),
            tool(
                "dup",
                json!({"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}),
            ),
            tool(
                "items",
                json!({"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}),
            ),
            json!({"name": "root", "inputSchema": {"type": "string", "x-mcp-header": "R"}}),
            json!({"name": "anyof", "inputSchema": {"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}}),
        ];
        let mut all = vec![
            good.clone(),
            json!({"name": "plain", "inputSchema": {"type": "object"}}),
        ];
        all.extend(bad);
        let kept = th.learn(all);
        let names: Vec<&str> = kept.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["good", "plain"]);
        let h = th.headers_for(
            "good",
            &json!({"region": "zürich", "opts": {"dry": true}, "n": null}),
        );
        let h: Vec<(String, String)> = h.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert!(
            h.contains(&("mcp-param-region".into(), "=?base64?esO8cmljaA==?=".into())),
            "{h:?}"
        );
        assert!(
            h.contains(&("mcp-param-dry-run".into(), "true".into())),
            "{h:?}"
        );
        assert_eq!(h.len(), 2, "a null argument sends no header: {h:?}");
        assert!(th.headers_for("plain", &json!({"region": "x"})).is_empty());
    }
}
