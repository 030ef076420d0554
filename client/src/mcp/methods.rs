//! The MCP operations: tools, resources, prompts, liveness and closing a session.

use serde_json::{Value, json};

use super::{McpClient, ProgressFn, TransportKind};
use crate::error::ClientError;
use shared::mcp::header;

impl McpClient {
    /// Lists every tool (follows `nextCursor`, at most 100 pages).
    /// Tools whose `x-mcp-header` annotations break the rules are left out (TR-21).
    pub async fn list_tools(&self) -> Result<Vec<Value>, ClientError> {
        let tools = self.list_all("tools/list", "tools").await?;
        Ok(self.tool_headers.learn(tools))
    }
    /// Calls a tool; the result (`content`, `structuredContent`, `isError`) is returned as is.
    /// Input the server asks for on the way (multi round-trip requests) is answered by the
    /// [`InputHandler`](super::InputHandler) (see [`Self::with_input_handler`]).
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Value, ClientError> {
        let params = json!({"name": name, "arguments": arguments});
        self.request_rounds("tools/call", params, progress).await
    }
    /// Lists every resource.
    pub async fn list_resources(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("resources/list", "resources").await
    }
    /// Reads a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<Value, ClientError> {
        self.request_rounds("resources/read", json!({"uri": uri}), None)
            .await
    }
    /// Lists every prompt.
    pub async fn list_prompts(&self) -> Result<Vec<Value>, ClientError> {
        self.list_all("prompts/list", "prompts").await
    }
    /// Gets a prompt.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut p = json!({"name": name});
        if let Some(a) = arguments {
            p["arguments"] = a;
        }
        self.request_rounds("prompts/get", p, None).await
    }
    /// Liveness check: `ping` (legacy eras) or `server/discover` (2026-07-28 has no ping).
    pub async fn ping(&self) -> Result<(), ClientError> {
        let method = if self.transport_kind() == TransportKind::Stateless {
            "server/discover"
        } else {
            "ping"
        };
        self.request(method, json!({})).await.map(|_| ())
    }

    /// Ends a legacy session (DELETE with the session id; 405 is fine; TR-40).
    pub async fn close(&self) -> Result<(), ClientError> {
        let sid = self.lock().session_id.take();
        if let Some(sid) = sid {
            let _ = self
                .http
                .delete(self.url.clone())
                .timeout(self.timeout)
                .header(header::SESSION_ID, sid)
                .header(header::PROTOCOL_VERSION, self.protocol_version())
                .send()
                .await;
        }
        Ok(())
    }

    async fn list_all(&self, method: &str, field: &str) -> Result<Vec<Value>, ClientError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = self.cached_request(method, params).await?;
            if let Some(items) = r.get(field).and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            cursor = r
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Ok(out)
    }
}
