//! Rendering results as text or JSON.

use std::sync::Arc;

use http_oauth2_client::token::decode_claims_unverified;
use http_oauth2_client::{AuthOnDemand, OAuthSession, Progress};
use serde_json::{Value, json};

pub(crate) fn progress_printer(json_out: bool) -> Arc<dyn Fn(Progress) + Send + Sync> {
    Arc::new(move |p: Progress| {
        if json_out {
            return;
        }
        let total = p.total.map(|t| format!("/{t}")).unwrap_or_default();
        let msg = p.message.map(|m| format!(" {m}")).unwrap_or_default();
        eprintln!("  progress {}{total}{msg}", p.progress);
    })
}

pub(crate) fn print_out(json_out: bool, v: &Value, text: impl FnOnce() -> String) {
    if json_out {
        out(&serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        out(&text());
    }
}

pub(crate) fn session_summary(s: &OAuthSession) -> Value {
    let token = s.token_manager().tokens().map(|t| {
        json!({
            "scope": t.scope,
            "expires_at": t.expires_at,
            "has_refresh_token": t.refresh_token.is_some(),
            "claims": decode_claims_unverified(&t.access_token),
        })
    });
    json!({
        "ok": true,
        "server_url": s.server_url().as_str(),
        "resource": s.resource(),
        "issuer": s.issuer(),
        "client_id": s.client_id(),
        "token": token,
    })
}

/// [`session_summary`] for an on-demand connection: `"authorization": "none"` (and no
/// issuer, client or token) when the server never asked for authorization.
pub(crate) fn auth_summary(auth: &AuthOnDemand) -> Value {
    match auth.session() {
        Some(s) => {
            let mut v = session_summary(&s);
            v["authorization"] = json!("oauth");
            v
        }
        None => json!({
            "ok": true,
            "server_url": auth.server_url().as_str(),
            "authorization": "none",
            "authorization_note": "the server did not ask for authorization",
            "resource": null,
            "issuer": null,
            "client_id": null,
            "token": null,
        }),
    }
}

pub(crate) fn token_text(t: &Value) -> String {
    if t.is_null() {
        return "  (no token)".into();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let exp = t["expires_at"].as_u64().map_or("unknown".to_owned(), |e| {
        if e > now {
            format!("in {}s", e - now)
        } else {
            format!("{}s ago (will refresh)", now - e)
        }
    });
    let mut out = format!(
        "  scope: {}\n  expires: {exp}\n  refresh token: {}",
        t["scope"].as_str().unwrap_or("(not stated)"),
        if t["has_refresh_token"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
    );
    if let Some(c) = t.get("claims").filter(|c| c.is_object()) {
        out.push_str("\n  claims (decoded, not verified):");
        for (k, v) in c.as_object().into_iter().flatten() {
            out.push_str(&format!("\n    {k}: {v}"));
        }
    }
    out
}

pub(crate) fn list_text(title: &str, items: &[Value]) -> String {
    let mut out = format!("{title} ({}):", items.len());
    for i in items {
        let name = i["name"].as_str().or(i["uri"].as_str()).unwrap_or("?");
        let desc = i["description"]
            .as_str()
            .or(i["title"].as_str())
            .unwrap_or("");
        let uri = i["uri"]
            .as_str()
            .filter(|u| *u != name)
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default();
        out.push_str(&format!("\n  - {name}{uri}  {desc}"));
    }
    out
}

pub(crate) fn tool_result_text(r: &Value) -> String {
    let mut out = String::new();
    if r.get("isError").and_then(Value::as_bool) == Some(true) {
        out.push_str("(tool error) ");
    }
    for c in r["content"].as_array().into_iter().flatten() {
        match c["text"].as_str() {
            Some(t) => out.push_str(t),
            None => out.push_str(&c.to_string()),
        }
        out.push('\n');
    }
    if let Some(s) = r.get("structuredContent") {
        out.push_str(&format!("structured: {s}\n"));
    }
    out.trim_end().to_owned()
}

pub(crate) fn contents_text(r: &Value) -> String {
    let mut out = String::new();
    for c in r["contents"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{} ({})\n",
            c["uri"].as_str().unwrap_or("?"),
            c["mimeType"].as_str().unwrap_or("?")
        ));
        match c["text"].as_str() {
            Some(t) => out.push_str(t),
            None => out.push_str("[binary content]"),
        }
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Arguments for a known demo tool, derived from its input schema: strings get a greeting,
/// numbers small integers.
pub(crate) fn sample_args(tool: &Value) -> Value {
    let mut args = serde_json::Map::new();
    let schema = &tool["inputSchema"];
    for req in schema["required"].as_array().into_iter().flatten() {
        let Some(name) = req.as_str() else { continue };
        let v = match schema["properties"][name]["type"].as_str() {
            Some("number" | "integer") => json!(2),
            Some("boolean") => json!(true),
            _ => json!("hello from http-oauth2-client"),
        };
        args.insert(name.to_owned(), v);
    }
    Value::Object(args)
}

/// Writes a line to stdout. A closed stdout (`| head`) is not an error worth a panic: the
/// output is simply no longer wanted.
pub(crate) fn out(line: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}
