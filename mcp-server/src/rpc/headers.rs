//! Custom headers from tool parameters (2026-07-28, checklist TR-21, TR-19): the
//! `regional_status` tool annotates parameters with `x-mcp-header`, so a client mirrors
//! those arguments into `Mcp-Param-{Name}` headers that intermediaries can route on; the
//! transport checks every such header against the body ([`validate`]) before the call runs.
//!
//! The annotations are a static table ([`param_headers`]), so a `tools/call` of any other
//! tool costs one string match and nothing else.

use http::HeaderMap;
use serde_json::{Map, Value, json};
use shared::mcp::header_value::{self, param_text};

use super::tools::ToolOut;

/// A parameter's JSON Schema type (the ones `x-mcp-header` may annotate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Integer,
    Boolean,
}

/// One annotated parameter: its top-level argument, header and type.
#[derive(Debug)]
pub(crate) struct ParamHeader {
    /// The argument (a top-level property).
    pub(crate) arg: &'static str,
    /// The `x-mcp-header` token.
    pub(crate) token: &'static str,
    /// The full header name, lower case (`mcp-param-{token}`).
    pub(crate) header: &'static str,
    pub(crate) kind: Kind,
}

const REGIONAL_STATUS: &[ParamHeader] = &[
    ParamHeader {
        arg: "region",
        token: "Region",
        header: "mcp-param-region",
        kind: Kind::String,
    },
    ParamHeader {
        arg: "priority",
        token: "Priority",
        header: "mcp-param-priority",
        kind: Kind::Integer,
    },
    ParamHeader {
        arg: "dry_run",
        token: "Dry-Run",
        header: "mcp-param-dry-run",
        kind: Kind::Boolean,
    },
];

/// The annotated parameters of tool `name` (`None`: the tool has none).
pub(crate) fn param_headers(name: &str) -> Option<&'static [ParamHeader]> {
    match name {
        "regional_status" => Some(REGIONAL_STATUS),
        _ => None,
    }
}

/// Whether `name` is a tool of this module.
pub(crate) fn handles(name: &str) -> bool {
    name == "regional_status"
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::String => "string",
        Kind::Integer => "integer",
        Kind::Boolean => "boolean",
    }
}

/// The tool definitions, annotations generated from the same table the transport checks.
pub(crate) fn definitions() -> Vec<Value> {
    let mut props = Map::new();
    for p in REGIONAL_STATUS {
        props.insert(
            p.arg.into(),
            json!({"type": kind_name(p.kind), shared::mcp::X_MCP_HEADER: p.token}),
        );
    }
    props.insert("note".into(), json!({"type": "string"}));
    vec![json!({
        "name": "regional_status",
        "title": "Regional status",
        "description": "Reports a region's status. `region`, `priority` and `dry_run` travel also as Mcp-Param-Region, Mcp-Param-Priority and Mcp-Param-Dry-Run headers (x-mcp-header), checked against the body.",
        "inputSchema": {"type": "object", "properties": props, "required": ["region"]},
        "annotations": {"readOnlyHint": true},
    })]
}

/// `tools/call regional_status`.
pub(crate) fn call(arguments: Option<&str>) -> ToolOut {
    let a: Map<String, Value> = arguments
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    let Some(region) = a.get("region").and_then(Value::as_str) else {
        return ToolOut::Text {
            text: "argument `region` (string) is required".into(),
            is_error: true,
        };
    };
    let priority = a.get("priority").and_then(Value::as_i64).unwrap_or(0);
    let dry_run = a.get("dry_run").and_then(Value::as_bool).unwrap_or(false);
    ToolOut::Text {
        text: format!("region {region}: operational (priority {priority}, dry run {dry_run})"),
        is_error: false,
    }
}

/// Integers compare numerically (`42` matches `42.0`, TR-20) when the header is a plain
/// decimal; anything else compares as rendered.
fn matches(kind: Kind, value: &Value, rendered: &str, decoded: &str) -> bool {
    if kind == Kind::Integer
        && let Some(n) = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
    {
        let (whole, fraction) = decoded.split_once('.').unwrap_or((decoded, ""));
        let digits = whole.strip_prefix('-').unwrap_or(whole);
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b == b'0');
        if plain {
            return whole.parse::<i64>().is_ok_and(|h| h == n);
        }
    }
    decoded == rendered
}

/// Checks the `Mcp-Param-*` headers of a `tools/call` against its arguments: each annotated
/// argument and its header are present together (null counts as absent) and equal after
/// decoding. `Err`: the reason, for a -32020 `HeaderMismatch`.
pub(crate) fn validate(
    spec: &[ParamHeader],
    headers: &HeaderMap,
    arguments: Option<&str>,
) -> Result<(), &'static str> {
    let args: Map<String, Value> = arguments
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    for p in spec {
        let mut all = headers.get_all(p.header).iter();
        let raw = all.next();
        if all.next().is_some() {
            return Err("An Mcp-Param header appears more than once");
        }
        let value = args.get(p.arg).filter(|v| !v.is_null());
        let rendered = value.and_then(param_text);
        match (raw, value, rendered) {
            (None, None, _) | (None, Some(_), None) => {}
            (Some(_), None, _) => {
                return Err("An Mcp-Param header is present but its argument is absent");
            }
            (Some(_), Some(_), None) => {
                return Err("An Mcp-Param header does not match the body");
            }
            (None, Some(_), Some(_)) => {
                return Err("An Mcp-Param header is missing for an argument in the body");
            }
            (Some(raw), Some(value), Some(rendered)) => {
                let decoded = raw
                    .to_str()
                    .ok()
                    .and_then(header_value::decode)
                    .ok_or("An Mcp-Param header has an invalid value")?;
                if !matches(p.kind, value, &rendered, &decoded) {
                    return Err("An Mcp-Param header does not match the body");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_definition_carries_the_table_annotations_tr21() {
        let d = &definitions()[0];
        let props = &d["inputSchema"]["properties"];
        for p in REGIONAL_STATUS {
            assert_eq!(props[p.arg][shared::mcp::X_MCP_HEADER], p.token);
            assert_eq!(
                p.header,
                format!(
                    "{}{}",
                    shared::mcp::header::PARAM_PREFIX,
                    p.token.to_ascii_lowercase()
                )
            );
        }
        assert!(param_headers("echo").is_none());
    }

    #[test]
    fn param_headers_must_match_the_arguments_tr21_tr19_tr20() {
        let args = Some(r#"{"region":"eu west","priority":3,"dry_run":true}"#);
        let good = [
            ("mcp-param-region", "=?base64?ZXUgd2VzdA==?="),
            ("mcp-param-priority", "3"),
            ("mcp-param-dry-run", "true"),
        ];
        // "eu west" is plain ASCII, so the sentinel is optional for it.
        validate(REGIONAL_STATUS, &headers(&good), args).unwrap();
        let mut plain = good;
        plain[0].1 = "eu west";
        validate(REGIONAL_STATUS, &headers(&plain), args).unwrap();
        let mut numeric = good;
        numeric[1].1 = "3.0";
        validate(REGIONAL_STATUS, &headers(&numeric), args).unwrap();
        for (i, bad) in ["eu-west", "4", "TRUE"].into_iter().enumerate() {
            let mut h = good;
            h[i].1 = bad;
            assert!(
                validate(REGIONAL_STATUS, &headers(&h), args).is_err(),
                "{bad}"
            );
        }
        // Missing header, extra header, duplicate header, malformed sentinel.
        assert!(validate(REGIONAL_STATUS, &headers(&good[1..]), args).is_err());
        assert!(
            validate(
                REGIONAL_STATUS,
                &headers(&good),
                Some(r#"{"region":"eu west","priority":3}"#)
            )
            .is_err()
        );
        let mut dup = good.to_vec();
        dup.push(("mcp-param-priority", "3"));
        assert!(validate(REGIONAL_STATUS, &headers(&dup), args).is_err());
        let mut bad64 = good;
        bad64[0].1 = "=?base64?!!?=";
        assert!(validate(REGIONAL_STATUS, &headers(&bad64), args).is_err());
        // A null argument counts as absent: no header is expected.
        validate(
            REGIONAL_STATUS,
            &headers(&good[..1]),
            Some(r#"{"region":"eu west","priority":null}"#),
        )
        .unwrap();
    }
}
