//! HTTP+SSE (2024-11-05, TR-50): a long-lived GET stream whose first event, `endpoint`, names
//! the POST URL; responses arrive as `message` events on the stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource_stream::Eventsource as _;
use futures_util::StreamExt as _;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::Value;
use tokio::sync::oneshot;
use url::Url;

use super::{ProgressFn, handle_incoming};
use crate::error::ClientError;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
type ProgressMap = Arc<Mutex<HashMap<String, ProgressFn>>>;

pub(super) struct LegacySse {
    post_url: Url,
    pending: Pending,
    progress: ProgressMap,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LegacySse {
    pub(super) async fn open(
        http: &ClientWithMiddleware,
        url: &Url,
        timeout: Duration,
        sibling_first: bool,
    ) -> Result<Self, ClientError> {
        let mut candidates = vec![url.clone()];
        if let Some(base) = url.path().strip_suffix("/mcp") {
            let mut u = url.clone();
            u.set_path(&format!("{base}/sse"));
            if sibling_first {
                candidates.insert(0, u);
            } else {
                candidates.push(u);
            }
        }
        // A GET that is not an HTTP+SSE endpoint may stay open without an `endpoint` event.
        let timeout = timeout.min(Duration::from_secs(10));
        let mut last = ClientError::Protocol("no HTTP+SSE endpoint".into());
        for sse_url in candidates {
            let resp = match http
                .get(sse_url.clone())
                .header(http::header::ACCEPT, "text/event-stream")
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    last = e.into();
                    continue;
                }
            };
            let status = resp.status();
            if status == http::StatusCode::UNAUTHORIZED {
                return Err(ClientError::AuthorizationRequired(
                    "the MCP server rejected the access token on the SSE stream".into(),
                ));
            }
            let is_sse = resp
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("text/event-stream"));
            if !status.is_success() {
                last = super::http_status_error(resp, format!("GET {sse_url}")).await;
                continue;
            }
            if !is_sse {
                last = ClientError::Protocol(format!("GET {sse_url} is not an event stream"));
                continue;
            }
            let mut events = resp.bytes_stream().eventsource();
            let endpoint = tokio::time::timeout(timeout, async {
                while let Some(ev) = events.next().await {
                    let ev =
                        ev.map_err(|e| ClientError::transport("reading the SSE stream failed", e))?;
                    if ev.event == "endpoint" {
                        return Ok(ev.data);
                    }
                }
                Err(ClientError::Protocol(
                    "SSE stream ended before the endpoint event".into(),
                ))
            })
            .await
            .map_err(|_| ClientError::timeout("no endpoint event on the SSE stream"))??;
            let post_url = sse_url
                .join(endpoint.trim())
                .map_err(|e| ClientError::Protocol(format!("invalid endpoint event: {e}")))?;
            if post_url.origin() != sse_url.origin() {
                return Err(ClientError::Protocol(
                    "the endpoint event names another origin; refusing it".into(),
                ));
            }
            let pending: Pending = Arc::default();
            let progress: ProgressMap = Arc::default();
            let (p2, g2) = (pending.clone(), progress.clone());
            let task = tokio::spawn(async move {
                while let Some(Ok(ev)) = events.next().await {
                    if !(ev.event.is_empty() || ev.event == "message") {
                        continue;
                    }
                    let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                        continue;
                    };
                    if v.get("method").and_then(Value::as_str) == Some("notifications/progress") {
                        let token = match &v["params"]["progressToken"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let cb = g2.lock().ok().and_then(|m| m.get(&token).cloned());
                        let _ = handle_incoming(v, None, &token, cb.as_ref());
                        continue;
                    }
                    if let Some(id) = v.get("id").and_then(Value::as_u64)
                        && let Some(tx) = p2.lock().ok().and_then(|mut m| m.remove(&id))
                    {
                        let _ = tx.send(v);
                    }
                }
            });
            return Ok(Self {
                post_url,
                pending,
                progress,
                task,
            });
        }
        Err(last)
    }

    pub(super) async fn post(
        &self,
        http: &ClientWithMiddleware,
        msg: &Value,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        let resp = http
            .post(self.post_url.clone())
            .timeout(timeout)
            .json(msg)
            .send()
            .await?;
        let status = resp.status();
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(ClientError::AuthorizationRequired(
                "the MCP server rejected the access token".into(),
            ));
        }
        if !status.is_success() {
            return Err(super::http_status_error(resp, "the SSE POST endpoint").await);
        }
        Ok(())
    }

    pub(super) async fn request(
        &self,
        http: &ClientWithMiddleware,
        id: u64,
        token: &str,
        msg: Value,
        progress: Option<ProgressFn>,
    ) -> Result<Value, ClientError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.pending.lock() {
            m.insert(id, tx);
        }
        if let Some(cb) = progress
            && let Ok(mut m) = self.progress.lock()
        {
            m.insert(token.to_owned(), cb);
        }
        let timeout = Duration::from_secs(60);
        let res = async {
            self.post(http, &msg, timeout).await?;
            tokio::time::timeout(timeout, rx)
                .await
                .map_err(|_| ClientError::timeout("no response on the SSE stream"))?
                .map_err(|_| ClientError::Protocol("the SSE stream closed".into()))
        }
        .await;
        if let Ok(mut m) = self.pending.lock() {
            m.remove(&id);
        }
        if let Ok(mut m) = self.progress.lock() {
            m.remove(token);
        }
        res
    }
}
