//! Server events as a [`Stream`] ([`McpClient::subscribe`]), for both eras:
//! * 2026-07-28: `subscriptions/listen` (PR-27, TR-25): the response stream carries the
//!   acknowledgement (the granted [`SubscriptionFilter`]), then the notifications, each
//!   stamped with the listen request's id; a `complete` result ends the stream gracefully.
//! * 2025 sessions: `resources/subscribe` for the URIs (PR-35) and the session's GET stream.
//!   A dropped GET stream is resumed (TR-32, TR-36): after the server's `retry` interval
//!   (doubling per failed attempt, bounded), GET again with `Last-Event-ID`; every event
//!   arrives once. A disconnect is not a cancellation: nothing is cancelled, the stream just
//!   resumes. When the server no longer has the missed events (410) the stream yields an error
//!   and ends: refetch and subscribe again.
//!
//! A `tools/list_changed` also drops cached `tools/list` results (PR-29).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use eventsource_stream::Eventsource as _;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use shared::mcp::{header, meta};
use url::Url;

use super::cache::ResponseCache;
use super::jsonrpc::{self, into_result};
use super::{McpClient, TransportKind, header_value};
use crate::error::ClientError;

/// Most reconnection attempts in a row for a dropped session stream.
const MAX_ATTEMPTS: u32 = 8;
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Wait before reconnecting when the server named no `retry`.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// The notifications a subscription asks for (and, in [`Subscription::granted`], those the
/// server agreed to send).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionFilter {
    /// `notifications/tools/list_changed`.
    pub tools_list_changed: bool,
    /// `notifications/prompts/list_changed`.
    pub prompts_list_changed: bool,
    /// `notifications/resources/list_changed`.
    pub resources_list_changed: bool,
    /// `notifications/resources/updated` for these URIs.
    pub resource_subscriptions: Vec<String>,
}

impl SubscriptionFilter {
    /// Nothing requested yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks for tool list changes.
    pub fn tools_list_changed(mut self) -> Self {
        self.tools_list_changed = true;
        self
    }
    /// Asks for prompt list changes.
    pub fn prompts_list_changed(mut self) -> Self {
        self.prompts_list_changed = true;
        self
    }
    /// Asks for resource list changes.
    pub fn resources_list_changed(mut self) -> Self {
        self.resources_list_changed = true;
        self
    }
    /// Asks for updates of the resource `uri`.
    pub fn resource(mut self, uri: impl Into<String>) -> Self {
        self.resource_subscriptions.push(uri.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({});
        for (k, on) in [
            ("toolsListChanged", self.tools_list_changed),
            ("promptsListChanged", self.prompts_list_changed),
            ("resourcesListChanged", self.resources_list_changed),
        ] {
            if on {
                v[k] = json!(true);
            }
        }
        if !self.resource_subscriptions.is_empty() {
            v["resourceSubscriptions"] = json!(self.resource_subscriptions);
        }
        v
    }

    fn from_json(v: &Value) -> Self {
        let on = |k: &str| v.get(k).and_then(Value::as_bool) == Some(true);
        Self {
            tools_list_changed: on("toolsListChanged"),
            prompts_list_changed: on("promptsListChanged"),
            resources_list_changed: on("resourcesListChanged"),
            resource_subscriptions: v
                .get("resourceSubscriptions")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default(),
        }
    }
}

/// Something changed on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// The tool list changed: list the tools again.
    ToolsListChanged,
    /// The prompt list changed.
    PromptsListChanged,
    /// The resource list changed.
    ResourcesListChanged,
    /// The resource `uri` changed: read it again.
    ResourceUpdated {
        /// The resource.
        uri: String,
    },
}

impl ServerEvent {
    /// The event a notification announces, if any.
    fn from_notification(v: &Value) -> Option<Self> {
        Some(match v.get("method")?.as_str()? {
            "notifications/tools/list_changed" => Self::ToolsListChanged,
            "notifications/prompts/list_changed" => Self::PromptsListChanged,
            "notifications/resources/list_changed" => Self::ResourcesListChanged,
            "notifications/resources/updated" => Self::ResourceUpdated {
                uri: v["params"]["uri"].as_str()?.to_owned(),
            },
            _ => return None,
        })
    }

    fn allowed_by(&self, f: &SubscriptionFilter) -> bool {
        match self {
            Self::ToolsListChanged => f.tools_list_changed,
            Self::PromptsListChanged => f.prompts_list_changed,
            Self::ResourcesListChanged => f.resources_list_changed,
            Self::ResourceUpdated { uri } => f.resource_subscriptions.iter().any(|u| u == uri),
        }
    }
}

/// A stream of [`ServerEvent`]s; it ends when the server ends the subscription (or the
/// session), and yields an error first when it ended for another reason.
pub struct Subscription {
    granted: SubscriptionFilter,
    inner: BoxStream<'static, Result<ServerEvent, ClientError>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("granted", &self.granted)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// What the server agreed to send.
    pub fn granted(&self) -> &SubscriptionFilter {
        &self.granted
    }
}

impl Stream for Subscription {
    type Item = Result<ServerEvent, ClientError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Drops cached lists an event makes stale.
fn invalidate(caches: &[Arc<ResponseCache>], e: &ServerEvent) {
    let method = match e {
        ServerEvent::ToolsListChanged => "tools/list",
        ServerEvent::PromptsListChanged => "prompts/list",
        ServerEvent::ResourcesListChanged => "resources/list",
        ServerEvent::ResourceUpdated { .. } => return,
    };
    for c in caches {
        c.invalidate(Some(method));
    }
}

impl McpClient {
    /// Subscribes to server events: `subscriptions/listen` under 2026-07-28, or
    /// `resources/subscribe` plus the session's (resumable) GET stream in a 2025 session.
    /// Not available over HTTP+SSE (2024-11-05).
    pub async fn subscribe(&self, filter: SubscriptionFilter) -> Result<Subscription, ClientError> {
        match self.transport_kind() {
            TransportKind::Stateless => self.listen(filter).await,
            TransportKind::Session => self.session_stream(filter).await,
            _ => Err(ClientError::Protocol(
                "subscriptions need Streamable HTTP (2025-03-26 or later)".into(),
            )),
        }
    }

    fn caches(&self) -> Vec<Arc<ResponseCache>> {
        let mut v = vec![self.cache.clone()];
        v.extend(self.shared_cache.clone());
        v
    }

    async fn listen(&self, filter: SubscriptionFilter) -> Result<Subscription, ClientError> {
        const METHOD: &str = "subscriptions/listen";
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut params = json!({"notifications": filter.to_json()});
        self.add_modern_meta(&mut params);
        let msg = jsonrpc::request(id, METHOD, params);
        let resp = self
            .http
            .post(self.url.clone())
            .header(http::header::ACCEPT, "text/event-stream, application/json")
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(header::PROTOCOL_VERSION, self.protocol_version())
            .header(header::METHOD, header_value(METHOD))
            .body(msg.to_string())
            .send()
            .await?;
        let sse = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if !resp.status().is_success() || !sse {
            let v = super::streamable::error_or_jsonrpc(resp).await?;
            into_result(v)?;
            return Err(ClientError::Protocol(
                "subscriptions/listen was answered without a stream".into(),
            ));
        }
        let mut events = resp.bytes_stream().eventsource();
        let first = tokio::time::timeout(self.timeout, events.next())
            .await
            .map_err(|_| ClientError::timeout("no acknowledgement on the listen stream"))?;
        let ack: Value = match first {
            Some(Ok(ev)) => serde_json::from_str(&ev.data).unwrap_or(Value::Null),
            Some(Err(e)) => return Err(ClientError::transport("reading the listen stream", e)),
            None => Value::Null,
        };
        if ack.get("method").and_then(Value::as_str)
            != Some("notifications/subscriptions/acknowledged")
        {
            // An error response instead of the acknowledgement.
            if ack.get("id").is_some() {
                into_result(ack)?;
            }
            return Err(ClientError::Protocol(
                "the listen stream did not start with notifications/subscriptions/acknowledged"
                    .into(),
            ));
        }
        let granted = SubscriptionFilter::from_json(&ack["params"]["notifications"]);
        let caches = self.caches();
        let allowed = granted.clone();
        let inner = events
            .map(
                move |ev| -> Option<Result<Option<ServerEvent>, ClientError>> {
                    let ev = match ev {
                        Ok(ev) => ev,
                        Err(e) => {
                            return Some(Err(ClientError::transport("the listen stream broke", e)));
                        }
                    };
                    let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                        return Some(Ok(None));
                    };
                    if v.get("method").is_none() && v.get("id").and_then(Value::as_u64) == Some(id)
                    {
                        // The server ended the subscription (a `complete` result, or an error).
                        return into_result(v).err().map(Err);
                    }
                    let stamped = v["params"]["_meta"][meta::SUBSCRIPTION_ID].as_u64() == Some(id);
                    Some(Ok(ServerEvent::from_notification(&v)
                        .filter(|e| stamped && e.allowed_by(&allowed))))
                },
            )
            .take_while(|x| std::future::ready(x.is_some()))
            .filter_map(move |x| {
                let out = match x {
                    Some(Ok(Some(e))) => {
                        invalidate(&caches, &e);
                        Some(Ok(e))
                    }
                    Some(Err(e)) => Some(Err(e)),
                    _ => None,
                };
                std::future::ready(out)
            })
            .boxed();
        Ok(Subscription { granted, inner })
    }

    async fn session_stream(
        &self,
        filter: SubscriptionFilter,
    ) -> Result<Subscription, ClientError> {
        let caps = self.server_info()["capabilities"].clone();
        for uri in &filter.resource_subscriptions {
            self.request("resources/subscribe", json!({"uri": uri}))
                .await?;
        }
        let listed = |area: &str, k: &str| caps[area][k].as_bool() == Some(true);
        let granted = SubscriptionFilter {
            tools_list_changed: filter.tools_list_changed && listed("tools", "listChanged"),
            prompts_list_changed: filter.prompts_list_changed && listed("prompts", "listChanged"),
            resources_list_changed: filter.resources_list_changed
                && listed("resources", "listChanged"),
            resource_subscriptions: filter.resource_subscriptions,
        };
        let sid = self
            .session_id()
            .ok_or_else(|| ClientError::Protocol("no MCP session to stream".into()))?;
        let target = Target {
            http: self.http.clone(),
            url: self.url.clone(),
            sid,
            version: self.protocol_version(),
        };
        // The first GET now, so that a server without GET streams is an error here.
        let first = target.open(None).await.map_err(|o| match o {
            Open::Retry(e) | Open::Fatal(e) => e,
            Open::Gone => ClientError::Protocol("410 on a fresh stream".into()),
        })?;
        let s = Resuming {
            target,
            last_id: None,
            retry: DEFAULT_RETRY,
            attempts: 0,
            events: Some(first),
            granted: granted.clone(),
            caches: self.caches(),
        };
        let inner = futures_util::stream::unfold(Some(s), |s| async move {
            let mut s = s?;
            match s.next().await {
                Ok(e) => Some((Ok(e), Some(s))),
                Err(Some(e)) => Some((Err(e), None)),
                Err(None) => None,
            }
        })
        .boxed();
        Ok(Subscription { granted, inner })
    }

    /// Adds the 2026-07-28 `_meta` (version, capabilities, client info) to `params`.
    pub(super) fn add_modern_meta(&self, params: &mut Value) {
        let version = self.protocol_version();
        let m = jsonrpc::meta_mut(params);
        m.insert(meta::PROTOCOL_VERSION.into(), json!(version));
        m.insert(meta::CLIENT_CAPABILITIES.into(), self.input.capabilities());
        m.insert(meta::CLIENT_INFO.into(), jsonrpc::client_info());
    }
}

type SseEvents = BoxStream<
    'static,
    Result<eventsource_stream::Event, eventsource_stream::EventStreamError<reqwest::Error>>,
>;

/// Why a GET did not give a stream.
enum Open {
    /// Worth another attempt (network error, 5xx, 429).
    Retry(ClientError),
    /// Not worth one (session gone, unauthorized, no GET stream).
    Fatal(ClientError),
    /// 410: the events after `Last-Event-ID` are gone.
    Gone,
}

/// A session's GET stream that reconnects with `Last-Event-ID`.
struct Resuming {
    target: Target,
    last_id: Option<String>,
    retry: Duration,
    attempts: u32,
    events: Option<SseEvents>,
    granted: SubscriptionFilter,
    caches: Vec<Arc<ResponseCache>>,
}

/// The parts of [`Resuming`] a GET needs (`Sync`, unlike the event stream).
struct Target {
    http: ClientWithMiddleware,
    url: Url,
    sid: String,
    version: String,
}

impl Target {
    async fn open(&self, last_id: Option<&str>) -> Result<SseEvents, Open> {
        let mut req = self
            .http
            .get(self.url.clone())
            .header(http::header::ACCEPT, "text/event-stream")
            .header(header::SESSION_ID, &self.sid)
            .header(header::PROTOCOL_VERSION, &self.version);
        if let Some(id) = last_id {
            req = req.header(header::LAST_EVENT_ID, id);
        }
        let resp = req.send().await.map_err(|e| Open::Retry(e.into()))?;
        let status = resp.status();
        if status == http::StatusCode::GONE {
            return Err(Open::Gone);
        }
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(Open::Fatal(ClientError::AuthorizationRequired(
                "the MCP server rejected the access token on the session stream".into(),
            )));
        }
        if !status.is_success() {
            let e = super::http_status_error(resp, "GET on the MCP endpoint").await;
            return Err(
                if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
                    Open::Retry(e)
                } else {
                    Open::Fatal(e)
                },
            );
        }
        Ok(resp.bytes_stream().eventsource().boxed())
    }
}

impl Resuming {
    /// The next event; `Err(Some(_))`: ended with an error; `Err(None)`: ended.
    async fn next(&mut self) -> Result<ServerEvent, Option<ClientError>> {
        loop {
            let Some(events) = self.events.as_mut() else {
                if self.attempts > MAX_ATTEMPTS {
                    return Err(Some(ClientError::Protocol(format!(
                        "the session stream could not be resumed after {MAX_ATTEMPTS} attempts"
                    ))));
                }
                let wait = self
                    .retry
                    .saturating_mul(1 << self.attempts.saturating_sub(1).min(5))
                    .min(MAX_BACKOFF);
                tokio::time::sleep(wait).await;
                match self.target.open(self.last_id.as_deref()).await {
                    Ok(es) => self.events = Some(es),
                    Err(Open::Gone) => {
                        return Err(Some(ClientError::Protocol(
                            "the session stream could not be resumed: the server no longer has the missed events (410); refetch and subscribe again".into(),
                        )));
                    }
                    Err(Open::Fatal(e)) => return Err(Some(e)),
                    Err(Open::Retry(e)) => {
                        tracing::debug!(error = %e, "session stream: reconnect failed");
                        self.attempts += 1;
                    }
                }
                continue;
            };
            match events.next().await {
                Some(Ok(ev)) => {
                    self.attempts = 0;
                    if !ev.id.is_empty() {
                        self.last_id = Some(ev.id.clone());
                    }
                    if let Some(r) = ev.retry {
                        self.retry = r.min(MAX_BACKOFF);
                    }
                    let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
                        continue;
                    };
                    if let Some(e) = ServerEvent::from_notification(&v)
                        && e.allowed_by(&self.granted)
                    {
                        invalidate(&self.caches, &e);
                        return Ok(e);
                    }
                }
                // Dropped (or ended by the server): resume, after `retry` (TR-32).
                Some(Err(_)) | None => {
                    tracing::debug!(
                        last_event_id = self.last_id.as_deref(),
                        "session stream dropped; resuming"
                    );
                    self.events = None;
                    self.attempts += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_their_wire_names_pr27() {
        let f = SubscriptionFilter::new()
            .tools_list_changed()
            .resource("counter://value");
        let v = f.to_json();
        assert_eq!(
            v,
            json!({"toolsListChanged": true, "resourceSubscriptions": ["counter://value"]})
        );
        assert_eq!(SubscriptionFilter::from_json(&v), f);
    }

    #[test]
    fn only_granted_events_pass() {
        let f = SubscriptionFilter::new().resource("a");
        let upd = json!({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"a"}});
        let e = ServerEvent::from_notification(&upd).unwrap();
        assert!(e.allowed_by(&f));
        let lc = json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"});
        let e = ServerEvent::from_notification(&lc).unwrap();
        assert!(!e.allowed_by(&f));
        let log = json!({"jsonrpc":"2.0","method":"notifications/message","params":{}});
        assert!(ServerEvent::from_notification(&log).is_none());
    }
}
