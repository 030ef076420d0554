//! Multi round-trip requests (MRTR, 2026-07-28; checklist PR-26, PR-23): when a
//! `tools/call`, `prompts/get` or `resources/read` answers `resultType: "input_required"`,
//! the client answers every
//! `inputRequests` entry through the application's [`InputHandler`] (elicitation, sampling,
//! roots) and calls again under a new JSON-RPC id with `inputResponses` and the
//! `requestState` echoed byte for byte (never read), until a complete result or the round
//! cap ([`ClientError::InputRoundsExceeded`]). Every call keeps its own state on its own
//! stack, so parallel calls never see each other's rounds; nothing of a round is cached.
//!
//! The handler decides what the client declares in
//! `_meta["io.modelcontextprotocol/clientCapabilities"]`, so a conforming server asks only
//! for what it implements. Asked anyway: an elicitation is declined
//! (`{"action": "decline"}`), sampling or roots end the call with
//! [`ClientError::InputUnsupported`] (an `InputResponses` entry cannot carry an error).
//!
//! ```no_run
//! # async fn f(mcp: http_oauth2_client::McpClient) -> Result<(), http_oauth2_client::ClientError> {
//! use http_oauth2_client::mcp::{ElicitResponse, InputCapabilities, InputHandler};
//! use std::sync::Arc;
//!
//! struct AlwaysYes;
//! #[async_trait::async_trait]
//! impl InputHandler for AlwaysYes {
//!     fn capabilities(&self) -> InputCapabilities {
//!         InputCapabilities::default().with_elicitation()
//!     }
//!     async fn elicit(&self, _params: &serde_json::Value) -> ElicitResponse {
//!         let mut content = serde_json::Map::new();
//!         content.insert("confirm".into(), true.into());
//!         ElicitResponse::Accept(content)
//!     }
//! }
//! let mcp = mcp.with_input_handler(Arc::new(AlwaysYes));
//! let r = mcp.call_tool("confirm_action", serde_json::json!({"action": "deploy"}), None).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use shared::mcp::result_type;

use super::{McpClient, ProgressFn, TransportKind};
use crate::error::ClientError;

/// The default cap on input rounds of one call.
pub const DEFAULT_MAX_INPUT_ROUNDS: u32 = 10;

/// Which kinds of input requests an [`InputHandler`] answers (declared to the server as
/// client capabilities).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputCapabilities {
    /// `elicitation/create` (forms and confirmations for the user).
    pub elicitation: bool,
    /// `sampling/createMessage` (a completion from the client's model).
    pub sampling: bool,
    /// `roots/list`.
    pub roots: bool,
}

impl InputCapabilities {
    /// Also answers elicitations.
    pub fn with_elicitation(mut self) -> Self {
        self.elicitation = true;
        self
    }
    /// Also answers sampling requests.
    pub fn with_sampling(mut self) -> Self {
        self.sampling = true;
        self
    }
    /// Also answers roots requests.
    pub fn with_roots(mut self) -> Self {
        self.roots = true;
        self
    }
}

/// The user's answer to an elicitation.
#[derive(Debug, Clone, PartialEq)]
pub enum ElicitResponse {
    /// Submitted, with the form's content (values matching the requested schema).
    Accept(Map<String, Value>),
    /// Explicitly declined.
    Decline,
    /// Dismissed without a choice.
    Cancel,
}

impl ElicitResponse {
    fn to_json(&self) -> Value {
        match self {
            Self::Accept(c) => json!({"action": "accept", "content": c}),
            Self::Decline => json!({"action": "decline"}),
            Self::Cancel => json!({"action": "cancel"}),
        }
    }
}

/// One root the client exposes (`roots/list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// A `file://` URI.
    pub uri: String,
    /// A display name.
    pub name: Option<String>,
}

/// What the application implements to answer a server's input requests. Every method has a
/// default: elicitations are declined, sampling and roots are unsupported.
#[async_trait::async_trait]
pub trait InputHandler: Send + Sync {
    /// The kinds this handler answers (declared as client capabilities).
    fn capabilities(&self) -> InputCapabilities;

    /// Answers `elicitation/create`; `params` as the server sent them (`message`,
    /// `requestedSchema`, `mode`).
    async fn elicit(&self, params: &Value) -> ElicitResponse {
        let _ = params;
        ElicitResponse::Decline
    }

    /// Answers `sampling/createMessage` with a `CreateMessageResult` (`role`, `content`,
    /// `model`); `None`: not supported.
    async fn sample(&self, params: &Value) -> Option<Value> {
        let _ = params;
        None
    }

    /// Answers `roots/list`; `None`: not supported.
    async fn roots(&self) -> Option<Vec<Root>> {
        None
    }
}

/// The input settings of one [`McpClient`].
#[derive(Clone)]
pub(crate) struct InputSettings {
    handler: Option<Arc<dyn InputHandler>>,
    max_rounds: u32,
}

impl Default for InputSettings {
    fn default() -> Self {
        Self {
            handler: None,
            max_rounds: DEFAULT_MAX_INPUT_ROUNDS,
        }
    }
}

impl std::fmt::Debug for InputSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputSettings")
            .field("handler", &self.handler.is_some())
            .field("max_rounds", &self.max_rounds)
            .finish()
    }
}

impl InputSettings {
    /// `clientCapabilities` for `_meta`.
    pub(crate) fn capabilities(&self) -> Value {
        let mut c = Map::new();
        if let Some(h) = &self.handler {
            let caps = h.capabilities();
            for (on, name) in [
                (caps.elicitation, "elicitation"),
                (caps.sampling, "sampling"),
                (caps.roots, "roots"),
            ] {
                if on {
                    c.insert(name.into(), json!({}));
                }
            }
        }
        Value::Object(c)
    }

    /// The answer to one input request.
    async fn answer(&self, request: &Value) -> Result<Value, ClientError> {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let params = request.get("params").unwrap_or(&Value::Null);
        let unsupported = || ClientError::InputUnsupported {
            method: method.chars().take(64).collect(),
        };
        let h = self.handler.as_deref();
        match method {
            "elicitation/create" => Ok(match h {
                Some(h) => h.elicit(params).await,
                None => ElicitResponse::Decline,
            }
            .to_json()),
            "sampling/createMessage" => match h {
                Some(h) => h.sample(params).await.ok_or_else(unsupported),
                None => Err(unsupported()),
            },
            "roots/list" => {
                let roots = match h {
                    Some(h) => h.roots().await.ok_or_else(unsupported)?,
                    None => return Err(unsupported()),
                };
                let roots: Vec<Value> = roots
                    .into_iter()
                    .map(|r| match r.name {
                        Some(n) => json!({"uri": r.uri, "name": n}),
                        None => json!({"uri": r.uri}),
                    })
                    .collect();
                Ok(json!({ "roots": roots }))
            }
            _ => Err(unsupported()),
        }
    }
}

/// Whether a result is an `InputRequiredResult` (PR-23: a missing `resultType` is
/// `complete`, an unknown one is invalid).
fn input_required(result: &Value) -> Result<bool, ClientError> {
    match result.get("resultType") {
        None => Ok(false),
        Some(Value::String(t)) if t == result_type::COMPLETE => Ok(false),
        Some(Value::String(t)) if t == result_type::INPUT_REQUIRED => Ok(true),
        Some(other) => Err(ClientError::Protocol(format!(
            "unknown resultType {}",
            other.to_string().chars().take(64).collect::<String>()
        ))),
    }
}

impl McpClient {
    /// Answers the server's input requests (multi round-trip requests) with `handler`.
    pub fn with_input_handler(mut self, handler: Arc<dyn InputHandler>) -> Self {
        self.input.handler = Some(handler);
        self
    }

    /// Caps the input rounds of one call (default [`DEFAULT_MAX_INPUT_ROUNDS`]; at least 1).
    pub fn with_max_input_rounds(mut self, rounds: u32) -> Self {
        self.input.max_rounds = rounds.max(1);
        self
    }

    /// `method` (`tools/call`, `prompts/get`, `resources/read`) through its input rounds;
    /// after a -32020 `HeaderMismatch` on `tools/call` the tool list is fetched again (fresh
    /// `x-mcp-header` annotations) and the call retried once (TR-21).
    pub(super) async fn request_rounds(
        &self,
        method: &str,
        mut params: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Value, ClientError> {
        let mut relisted = method != "tools/call";
        let mut rounds = 0u32;
        let mut idle = Duration::from_millis(50);
        loop {
            let sent = self
                .request_with_progress(method, params.clone(), progress.clone())
                .await;
            let result = match sent {
                Err(ClientError::Mcp { code, .. })
                    if code == i64::from(shared::mcp::error_code::HEADER_MISMATCH)
                        && !relisted
                        && self.transport_kind() == TransportKind::Stateless =>
                {
                    relisted = true;
                    tracing::info!("Mcp-Param headers refused (-32020); listing tools again");
                    // Past the cache: the cached list is what gave the refused headers.
                    self.cache.invalidate(Some("tools/list"));
                    if let Some(c) = &self.shared_cache {
                        c.invalidate(Some("tools/list"));
                    }
                    self.list_tools().await?;
                    continue;
                }
                r => r?,
            };
            if !input_required(&result)? {
                return Ok(result);
            }
            rounds += 1;
            if rounds > self.input.max_rounds {
                return Err(ClientError::InputRoundsExceeded {
                    max_rounds: self.input.max_rounds,
                });
            }
            let requests = result.get("inputRequests").and_then(Value::as_object);
            let responses = match requests.filter(|r| !r.is_empty()) {
                Some(requests) => {
                    let answers = futures_util::future::try_join_all(
                        requests.values().map(|r| self.input.answer(r)),
                    )
                    .await?;
                    Some(
                        requests
                            .keys()
                            .cloned()
                            .zip(answers)
                            .collect::<Map<String, Value>>(),
                    )
                }
                None => {
                    // Only state: the server is working; wait a little before asking again.
                    tokio::time::sleep(idle).await;
                    idle = (idle * 2).min(Duration::from_millis(250));
                    None
                }
            };
            let Some(p) = params.as_object_mut() else {
                return Err(ClientError::Protocol(format!(
                    "{method}: params must be a JSON object"
                )));
            };
            p.remove("inputResponses");
            p.remove("requestState");
            if let Some(r) = responses {
                p.insert("inputResponses".into(), Value::Object(r));
            }
            // Echoed exactly as received: never parsed, never changed.
            if let Some(state) = result.get("requestState") {
                p.insert("requestState".into(), state.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Forms;
    #[async_trait::async_trait]
    impl InputHandler for Forms {
        fn capabilities(&self) -> InputCapabilities {
            InputCapabilities {
                elicitation: true,
                ..Default::default()
            }
        }
    }

    #[tokio::test]
    async fn unimplemented_kinds_are_declined_or_unsupported_pr26() {
        let none = InputSettings::default();
        assert_eq!(none.capabilities(), json!({}));
        let elicit = json!({"method": "elicitation/create", "params": {"message": "ok?"}});
        assert_eq!(
            none.answer(&elicit).await.unwrap(),
            json!({"action": "decline"})
        );
        let forms = InputSettings {
            handler: Some(Arc::new(Forms)),
            ..Default::default()
        };
        assert_eq!(forms.capabilities(), json!({"elicitation": {}}));
        assert_eq!(
            forms.answer(&elicit).await.unwrap(),
            json!({"action": "decline"})
        );
        for m in ["sampling/createMessage", "roots/list", "tasks/get"] {
            let e = forms.answer(&json!({"method": m})).await.unwrap_err();
            assert!(
                matches!(&e, ClientError::InputUnsupported { method } if method == m),
                "{e:?}"
            );
        }
    }

    #[test]
    fn result_type_missing_is_complete_and_unknown_is_invalid_pr23() {
        assert!(!input_required(&json!({"content": []})).unwrap());
        assert!(!input_required(&json!({"resultType": "complete"})).unwrap());
        assert!(input_required(&json!({"resultType": "input_required"})).unwrap());
        assert!(input_required(&json!({"resultType": "later"})).is_err());
    }
}
