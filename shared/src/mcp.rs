//! MCP protocol vocabulary shared by the server and the client: protocol versions, the HTTP
//! header names of the Streamable HTTP transport, the `_meta` keys of 2026-07-28 and the
//! MCP-specific JSON-RPC error codes (the JSON-RPC 2.0 ones come from jsonrpsee).
//!
//! Header names are lower case, the form `http::HeaderName::from_static` requires; HTTP
//! compares them case-insensitively.
//!
//! ```
//! use shared::mcp::{self, header};
//! assert_eq!(mcp::PROTOCOL_VERSIONS[0], mcp::STATELESS_VERSION);
//! assert!(mcp::SESSION_VERSIONS.contains(&"2025-03-26"));
//! assert_eq!(header::SESSION_ID, "mcp-session-id");
//! ```

/// The stateless protocol version (no `initialize`, no session; `_meta` carries the version).
pub const STATELESS_VERSION: &str = "2026-07-28";

/// Versions negotiated through `initialize` (sessions), newest first.
pub const SESSION_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Every version this project speaks, newest first: [`STATELESS_VERSION`] then
/// [`SESSION_VERSIONS`].
pub const PROTOCOL_VERSIONS: &[&str] = &[
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];

/// The version of the HTTP+SSE transport (no Streamable HTTP).
pub const HTTP_SSE_VERSION: &str = "2024-11-05";

/// HTTP header names of the Streamable HTTP transport.
pub mod header {
    /// `Mcp-Session-Id`: the session of the 2025-03-26 .. 2025-11-25 eras.
    pub const SESSION_ID: &str = "mcp-session-id";
    /// `MCP-Protocol-Version`.
    pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
    /// `Mcp-Method` (2026-07-28): the JSON-RPC method, repeated for intermediaries.
    pub const METHOD: &str = "mcp-method";
    /// `Mcp-Name` (2026-07-28): the tool or prompt name, or the resource URI.
    pub const NAME: &str = "mcp-name";
    /// `Last-Event-ID`: resumes a 2025-11-25 session stream after the named event (TR-36).
    pub const LAST_EVENT_ID: &str = "last-event-id";
    /// Prefix of the `Mcp-Param-{Name}` headers (2026-07-28, TR-21): a `tools/call` argument
    /// the tool's `inputSchema` annotates with `x-mcp-header: "{Name}"`, mirrored for
    /// intermediaries.
    pub const PARAM_PREFIX: &str = "mcp-param-";
}

/// The `inputSchema` property annotation naming an `Mcp-Param-*` header (TR-21).
pub const X_MCP_HEADER: &str = "x-mcp-header";

/// Values of the 2026-07-28 `Mcp-*` request headers (TR-19): plain visible ASCII as is,
/// anything else inside the `=?base64?...?=` sentinel; and how a tool argument becomes the
/// text of its `Mcp-Param-*` header (TR-21). The client encodes, the server decodes: one
/// implementation of the rules for both.
///
/// ```
/// use shared::mcp::header_value::{decode, encode};
/// assert_eq!(encode("echo"), "echo");
/// assert_eq!(encode(" x"), "=?base64?IHg=?=");
/// assert_eq!(decode("=?base64?IHg=?=").as_deref(), Some(" x"));
/// assert_eq!(decode("=?base64?IHg?=").as_deref(), None); // not canonical base64
/// ```
pub mod header_value {
    use std::borrow::Cow;

    use base64::Engine as _;

    const PREFIX: &str = "=?base64?";
    const SUFFIX: &str = "?=";

    /// The header text of `v`: as is when it is non-empty visible ASCII without leading or
    /// trailing spaces and does not look like the sentinel; else base64 in the sentinel.
    pub fn encode(v: &str) -> String {
        let sentinel = v.starts_with("=?") && v.ends_with(SUFFIX);
        let plain = !v.is_empty()
            && v.bytes().all(|b| (0x20..0x7f).contains(&b))
            && !v.starts_with(' ')
            && !v.ends_with(' ')
            && !sentinel;
        if plain {
            v.to_owned()
        } else {
            let b64 = base64::engine::general_purpose::STANDARD.encode(v.as_bytes());
            format!("{PREFIX}{b64}{SUFFIX}")
        }
    }

    /// The value a header carries: the sentinel decoded (canonical standard base64 of UTF-8
    /// only, what [`encode`] emits), else the text itself, borrowed. `None`: a malformed
    /// sentinel, which never matches anything.
    pub fn decode(v: &str) -> Option<Cow<'_, str>> {
        match v.strip_prefix(PREFIX).and_then(|r| r.strip_suffix(SUFFIX)) {
            Some(b) => {
                let e = base64::engine::general_purpose::STANDARD;
                let bytes = e.decode(b).ok()?;
                (e.encode(&bytes) == b).then_some(())?;
                String::from_utf8(bytes).ok().map(Cow::Owned)
            }
            None => Some(Cow::Borrowed(v)),
        }
    }

    /// The text of a tool argument in its `Mcp-Param-*` header before [`encode`]: strings as
    /// they are, booleans and numbers as JSON writes them; `None` for null, arrays and
    /// objects (no header is sent).
    pub fn param_text(v: &serde_json::Value) -> Option<String> {
        use serde_json::Value;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn encode_decode_round_trip_tr19() {
            for v in ["echo", " x", "é", "=?base64?abc?=", "", "a\tb", "tail "] {
                assert_eq!(decode(&encode(v)).as_deref(), Some(v), "{v:?}");
            }
            assert!(encode("=?base64?abc?=").starts_with("=?base64?PT9i"));
            assert!(matches!(decode("plain"), Some(Cow::Borrowed("plain"))));
            for bad in ["=?base64?!!?=", "=?base64?IHg?=", "=?base64?/w==?="] {
                assert_eq!(decode(bad), None, "{bad}");
            }
        }

        #[test]
        fn param_text_renders_primitives_only_tr21() {
            use serde_json::json;
            assert_eq!(param_text(&json!("eu")).as_deref(), Some("eu"));
            assert_eq!(param_text(&json!(true)).as_deref(), Some("true"));
            assert_eq!(param_text(&json!(42)).as_deref(), Some("42"));
            assert_eq!(param_text(&json!(null)), None);
            assert_eq!(param_text(&json!([1])), None);
            assert_eq!(param_text(&json!({"a": 1})), None);
        }
    }
}

/// `resultType` values of 2026-07-28 results (PR-23); a missing one means
/// [`result_type::COMPLETE`].
pub mod result_type {
    /// The final result.
    pub const COMPLETE: &str = "complete";
    /// An `InputRequiredResult` (multi round-trip request, PR-26): answer its `inputRequests`
    /// and retry with `inputResponses` and the `requestState` unchanged.
    pub const INPUT_REQUIRED: &str = "input_required";
}

/// `_meta` keys of 2026-07-28 requests and results.
pub mod meta {
    /// The protocol version of a stateless request.
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities, sent with every stateless request.
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The client's name and version.
    pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
    /// The server's name and version (in `server/discover` results).
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
    /// On every message of a `subscriptions/listen` stream: the listen request's id (PR-27).
    pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
}

/// MCP-specific JSON-RPC error codes (the schema's constants; -32700..-32600 are JSON-RPC's).
pub mod error_code {
    /// Resource not found (`resources/read`, session eras).
    pub const RESOURCE_NOT_FOUND: i32 = -32002;
    /// 2026-07-28 `HeaderMismatch`: an `Mcp-*` header disagrees with the body or is missing.
    pub const HEADER_MISMATCH: i32 = -32020;
    /// 2026-07-28 `MissingRequiredClientCapability`.
    pub const MISSING_CAPABILITY: i32 = -32021;
    /// 2026-07-28 `UnsupportedProtocolVersion`.
    pub const UNSUPPORTED_VERSION: i32 = -32022;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_versions_are_stateless_then_session_versions() {
        assert_eq!(PROTOCOL_VERSIONS[0], STATELESS_VERSION);
        assert_eq!(&PROTOCOL_VERSIONS[1..], SESSION_VERSIONS);
    }
}
