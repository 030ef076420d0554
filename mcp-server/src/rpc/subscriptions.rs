//! What changes on this server, and who hears about it (PR-27, PR-35): a per-process
//! [`Events`] bus (a bounded tokio `broadcast` channel; one per server instance, nothing is
//! shared between instances) that the tools publish to, and the listen streams
//! (`subscriptions/listen`, 2026-07-28) and legacy session streams read from.
//!
//! The mock server has two things that change: the tool `toggle_tool` adds or removes the
//! optional tool `optional_tool` (tool list changed), and `increment` adds one to the
//! counter resource [`COUNTER_URI`] (resource updated).
//!
//! Bounds: at most `limits.max_listeners_per_subject` listen streams per token subject (more:
//! 429); a listener that falls more than `limits.event_buffer` events behind is dropped (its
//! stream ends; the client listens again and refetches).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::tools::{self, ToolOut};

/// The counter resource's URI.
pub(crate) const COUNTER_URI: &str = "counter://value";
/// The tool that `toggle_tool` adds and removes.
pub(crate) const OPTIONAL_TOOL: &str = "optional_tool";

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The tool list changed.
    ToolsListChanged,
    /// The resource at this URI changed.
    ResourceUpdated(Arc<str>),
}

impl Event {
    /// The JSON-RPC notification; `subscription` (the raw JSON id of the listen request)
    /// goes into `_meta` (2026-07-28), legacy notifications carry none.
    pub(crate) fn notification(&self, subscription: Option<&str>) -> String {
        let meta = subscription.map(|id| {
            format!(
                r#""_meta":{{"{}":{id}}}"#,
                shared::mcp::meta::SUBSCRIPTION_ID
            )
        });
        match (self, meta) {
            (Self::ToolsListChanged, None) => {
                r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#.to_owned()
            }
            (Self::ToolsListChanged, Some(m)) => format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{{{m}}}}}"#
            ),
            (Self::ResourceUpdated(uri), m) => {
                let uri = Value::String(uri.to_string());
                let m = m.map(|m| format!(",{m}")).unwrap_or_default();
                format!(
                    r#"{{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{{"uri":{uri}{m}}}}}"#
                )
            }
        }
    }
}

/// The server's change bus and the mock state that changes.
#[derive(Debug)]
pub(crate) struct Events {
    tx: broadcast::Sender<Event>,
    optional_tool: AtomicBool,
    counter: AtomicU64,
    listeners: Mutex<HashMap<String, usize>>,
    max_per_subject: usize,
}

impl Events {
    /// A bus whose listeners may fall `buffer` events behind before they are dropped.
    pub(crate) fn new(buffer: usize, max_per_subject: usize) -> Arc<Self> {
        Arc::new(Self {
            tx: broadcast::channel(buffer.max(1)).0,
            optional_tool: AtomicBool::new(false),
            counter: AtomicU64::new(0),
            listeners: Mutex::new(HashMap::new()),
            max_per_subject,
        })
    }

    /// A receiver of every event published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Publishes `e` (no listener: nothing happens).
    pub(crate) fn publish(&self, e: Event) {
        let _ = self.tx.send(e);
    }

    /// A place for one more listen stream of `subject`, held while the stream lives; `None`
    /// when the subject holds `limits.max_listeners_per_subject`.
    pub(crate) fn listener(self: &Arc<Self>, subject: &str) -> Option<ListenerSlot> {
        let mut g = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = g.entry(subject.to_owned()).or_insert(0);
        if *n >= self.max_per_subject {
            return None;
        }
        *n += 1;
        Some(ListenerSlot {
            events: self.clone(),
            subject: subject.to_owned(),
        })
    }

    /// The counter's value.
    pub(crate) fn counter(&self) -> u64 {
        self.counter.load(Ordering::Acquire)
    }

    fn optional_tool_on(&self) -> bool {
        self.optional_tool.load(Ordering::Acquire)
    }
}

/// One listen stream's place (see [`Events::listener`]).
#[derive(Debug)]
pub(crate) struct ListenerSlot {
    events: Arc<Events>,
    subject: String,
}

impl Drop for ListenerSlot {
    fn drop(&mut self) {
        let mut g = self
            .events
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = g.get_mut(&self.subject) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                g.remove(&self.subject);
            }
        }
    }
}

fn extra_tools(optional: bool) -> Vec<Value> {
    let mut v = tools::definitions().to_vec();
    v.push(json!({
        "name": "toggle_tool",
        "title": "Toggle the optional tool",
        "description": "Adds or removes `optional_tool` (the tool list changes: notifications/tools/list_changed).",
        "inputSchema": {"type": "object", "properties": {}},
    }));
    v.push(json!({
        "name": "increment",
        "title": "Increment the counter",
        "description": "Adds one to the counter resource counter://value (notifications/resources/updated).",
        "inputSchema": {"type": "object", "properties": {}},
        "outputSchema": {"type": "object", "properties": {"value": {"type": "integer"}}, "required": ["value"]},
    }));
    if optional {
        v.push(json!({
            "name": OPTIONAL_TOOL,
            "title": "Optional tool",
            "description": "Present only while toggled on by `toggle_tool`.",
            "inputSchema": {"type": "object", "properties": {}},
        }));
    }
    v
}

static TOOLS_OFF: LazyLock<Vec<Value>> = LazyLock::new(|| extra_tools(false));
static TOOLS_ON: LazyLock<Vec<Value>> = LazyLock::new(|| extra_tools(true));

/// The tool list as it is now (built once per state, not per request).
pub(crate) fn tool_definitions(events: &Events) -> &'static [Value] {
    if events.optional_tool_on() {
        &TOOLS_ON
    } else {
        &TOOLS_OFF
    }
}

/// The tools of this module; `None`: not one of them (the caller reports an unknown tool).
pub(crate) fn call(events: &Events, name: &str) -> Option<ToolOut> {
    Some(match name {
        "toggle_tool" => {
            let on = !events.optional_tool.fetch_xor(true, Ordering::AcqRel);
            events.publish(Event::ToolsListChanged);
            ToolOut::Text {
                text: format!("{OPTIONAL_TOOL} is now {}", if on { "on" } else { "off" }),
                is_error: false,
            }
        }
        "increment" => {
            let v = events.counter.fetch_add(1, Ordering::AcqRel) + 1;
            events.publish(Event::ResourceUpdated(COUNTER_URI.into()));
            let s = json!({"value": v});
            ToolOut::Json(
                json!({"content": [{"type": "text", "text": s.to_string()}], "structuredContent": s}),
            )
        }
        OPTIONAL_TOOL if events.optional_tool_on() => ToolOut::Text {
            text: "the optional tool is on".to_owned(),
            is_error: false,
        },
        _ => return None,
    })
}

/// What a listen stream asked for and was granted (PR-27: only requested kinds are sent).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) tools_list_changed: bool,
    pub(crate) resources: Vec<String>,
}

/// Most resource URIs one listen stream or one legacy session may subscribe to.
pub(crate) const MAX_RESOURCE_SUBSCRIPTIONS: usize = 64;

impl Filter {
    /// Parses `params.notifications` of `subscriptions/listen`; what this server never sends
    /// (prompt and resource list changes) is left out of the grant.
    pub(crate) fn from_params(params: Option<&str>) -> Result<Self, &'static str> {
        #[derive(serde::Deserialize)]
        struct P {
            notifications: N,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct N {
            #[serde(default)]
            tools_list_changed: Option<bool>,
            #[serde(default)]
            resource_subscriptions: Option<Vec<String>>,
        }
        let p: P = serde_json::from_str(params.unwrap_or("{}"))
            .map_err(|_| "params.notifications (an object) is required")?;
        let mut resources = p.notifications.resource_subscriptions.unwrap_or_default();
        if resources.len() > MAX_RESOURCE_SUBSCRIPTIONS {
            return Err("too many resourceSubscriptions");
        }
        resources.sort();
        resources.dedup();
        Ok(Self {
            tools_list_changed: p.notifications.tools_list_changed == Some(true),
            resources,
        })
    }

    /// Whether `e` is within the grant.
    pub(crate) fn matches(&self, e: &Event) -> bool {
        match e {
            Event::ToolsListChanged => self.tools_list_changed,
            Event::ResourceUpdated(uri) => self.resources.iter().any(|r| **r == **uri),
        }
    }

    /// The grant as sent in `notifications/subscriptions/acknowledged`.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({});
        if self.tools_list_changed {
            v["toolsListChanged"] = json!(true);
        }
        if !self.resources.is_empty() {
            v["resourceSubscriptions"] = json!(self.resources);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_carry_the_subscription_id_only_when_listening_pr27() {
        let e = Event::ResourceUpdated(COUNTER_URI.into());
        let v: Value = serde_json::from_str(&e.notification(Some("\"s1\""))).unwrap();
        assert_eq!(v["params"]["uri"], COUNTER_URI);
        assert_eq!(
            v["params"]["_meta"][shared::mcp::meta::SUBSCRIPTION_ID],
            "s1"
        );
        let v: Value = serde_json::from_str(&Event::ToolsListChanged.notification(None)).unwrap();
        assert_eq!(v["method"], "notifications/tools/list_changed");
        assert!(v.get("params").is_none());
        let v: Value =
            serde_json::from_str(&Event::ToolsListChanged.notification(Some("7"))).unwrap();
        assert_eq!(v["params"]["_meta"][shared::mcp::meta::SUBSCRIPTION_ID], 7);
    }

    #[test]
    fn the_filter_grants_only_what_was_asked_and_this_server_sends_pr27() {
        let f = Filter::from_params(Some(
            r#"{"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourceSubscriptions":["b","a","a"]}}"#,
        ))
        .unwrap();
        assert_eq!(
            f.to_json(),
            json!({"toolsListChanged": true, "resourceSubscriptions": ["a", "b"]})
        );
        assert!(f.matches(&Event::ResourceUpdated("a".into())));
        assert!(!f.matches(&Event::ResourceUpdated("c".into())));
        let none = Filter::from_params(Some(r#"{"notifications":{}}"#)).unwrap();
        assert!(!none.matches(&Event::ToolsListChanged));
        assert_eq!(none.to_json(), json!({}));
        assert!(Filter::from_params(None).is_err());
        let many: Vec<String> = (0..65).map(|i| i.to_string()).collect();
        let p = json!({"notifications": {"resourceSubscriptions": many}}).to_string();
        assert!(Filter::from_params(Some(&p)).is_err());
    }

    #[test]
    fn listener_places_per_subject_are_bounded_and_come_back() {
        let ev = Events::new(4, 2);
        let a = ev.listener("alice").unwrap();
        let _b = ev.listener("alice").unwrap();
        assert!(ev.listener("alice").is_none());
        assert!(ev.listener("bob").is_some());
        drop(a);
        assert!(ev.listener("alice").is_some());
    }

    #[tokio::test]
    async fn a_listener_that_falls_behind_the_buffer_lags_instead_of_blocking_publishers() {
        let ev = Events::new(2, 1);
        let mut rx = ev.subscribe();
        for _ in 0..5 {
            assert!(call(&ev, "increment").is_some());
        }
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Lagged(3))
        ));
        assert_eq!(ev.counter(), 5);
        assert!(call(&ev, OPTIONAL_TOOL).is_none());
        call(&ev, "toggle_tool");
        assert!(call(&ev, OPTIONAL_TOOL).is_some());
        assert!(
            tool_definitions(&ev)
                .iter()
                .any(|t| t["name"] == OPTIONAL_TOOL)
        );
    }
}
