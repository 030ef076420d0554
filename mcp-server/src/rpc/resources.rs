//! Resources: files under the configured folder as `file:///<relative path>` (read-only;
//! path traversal impossible: `..`, absolute paths, backslashes, NUL and symlinks leaving the
//! folder are refused, checklist PR-34), the `file:///{path}` template, and `config://server`.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use jsonrpsee::types::error::INVALID_PARAMS_CODE;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::mcp::error_code::RESOURCE_NOT_FOUND;

use super::{State, invalid_params, parse};

/// Largest file served, bytes.
const MAX_FILE: u64 = 1024 * 1024;
/// Most files listed.
const MAX_LISTED: usize = 1000;

/// The read-only folder behind `file:///` resources.
#[derive(Debug, Clone)]
pub(crate) struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub(crate) fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
        })
    }

    /// Maps a relative path from a URI to a file inside the root, or `None`.
    async fn resolve(&self, rel: &str) -> Option<PathBuf> {
        if rel.is_empty() || rel.contains('\\') || rel.contains('\0') || rel.contains('%') {
            return None;
        }
        let rel_path = Path::new(rel);
        if !rel_path
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return None;
        }
        let full = tokio::fs::canonicalize(self.root.join(rel_path))
            .await
            .ok()?;
        if !full.starts_with(&self.root) {
            return None;
        }
        let md = tokio::fs::metadata(&full).await.ok()?;
        md.is_file().then_some(full)
    }

    async fn list(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), 0u8)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(mut rd) = tokio::fs::read_dir(&dir).await else {
                continue;
            };
            while let Ok(Some(e)) = rd.next_entry().await {
                let Ok(ft) = e.file_type().await else {
                    continue;
                };
                let path = e.path();
                if ft.is_dir() && depth < 4 {
                    stack.push((path, depth + 1));
                } else if ft.is_file()
                    && let Ok(rel) = path.strip_prefix(&self.root)
                    && let Some(s) = rel.to_str()
                {
                    out.push(s.replace(std::path::MAIN_SEPARATOR, "/"));
                }
                if out.len() >= MAX_LISTED {
                    break;
                }
            }
        }
        out.sort();
        out
    }
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("md") => "text/markdown",
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        Some("rs") => "text/x-rust",
        Some("toml") => "application/toml",
        _ => "application/octet-stream",
    }
}

/// Every listed resource: the config resource, then files.
pub(crate) async fn list(st: &State) -> Vec<Value> {
    let mut v = vec![json!({
        "uri": "config://server",
        "name": "server-config",
        "title": "Server configuration (public part)",
        "mimeType": "application/json",
    })];
    v.push(json!({
        "uri": super::subscriptions::COUNTER_URI,
        "name": "counter",
        "title": "A counter (the tool `increment` adds one; subscribe to hear of it)",
        "mimeType": "application/json",
    }));
    if let Some(files) = &st.files {
        for f in files.list().await {
            v.push(json!({
                "uri": format!("file:///{f}"),
                "name": f,
                "mimeType": mime_for(&f),
            }));
        }
    }
    v
}

/// Resource templates.
pub(crate) fn templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": "file:///{path}",
        "name": "file",
        "title": "A file from the server's resource folder",
        "description": "Read-only; paths are relative to the configured resources_dir.",
    })]
}

/// Relative paths offered for completing `{path}`.
pub(crate) async fn file_names(st: &State) -> Vec<String> {
    match &st.files {
        Some(f) => f.list().await,
        None => Vec::new(),
    }
}

#[derive(Deserialize)]
struct ReadParams {
    uri: String,
}

fn not_found(modern: bool, uri: &str) -> ErrorObjectOwned {
    let code = if modern {
        INVALID_PARAMS_CODE
    } else {
        RESOURCE_NOT_FOUND
    };
    ErrorObjectOwned::owned(
        code,
        "Resource not found".to_owned(),
        Some(json!({"uri": uri.chars().take(256).collect::<String>()})),
    )
}

/// `resources/read`.
pub(crate) async fn read(
    st: &State,
    modern: bool,
    p: &Params<'_>,
) -> Result<Value, ErrorObjectOwned> {
    let rp: ReadParams = parse(p)?;
    let uri = rp.uri.as_str();
    if uri == super::subscriptions::COUNTER_URI {
        return Ok(json!({"contents": [{
            "uri": uri, "mimeType": "application/json",
            "text": json!({"value": st.events.counter()}).to_string(),
        }]}));
    }
    if uri == "config://server" {
        let c = &st.config;
        let body = json!({
            "resource": st.resource_url,
            "authorization_server": c.auth_server_issuer,
            "algorithms": c.algorithms,
            "scopes": c.scopes,
            "introspection": c.introspection.is_some(),
            "limits": c.limits,
        });
        return Ok(json!({"contents": [{
            "uri": uri, "mimeType": "application/json",
            "text": serde_json::to_string_pretty(&body).unwrap_or_default(),
        }]}));
    }
    let Some(rel) = uri.strip_prefix("file:///") else {
        return Err(if uri.len() > 2048 {
            invalid_params("uri too long")
        } else {
            not_found(modern, uri)
        });
    };
    let Some(files) = &st.files else {
        return Err(not_found(modern, uri));
    };
    let Some(path) = files.resolve(rel).await else {
        return Err(not_found(modern, uri));
    };
    let md = tokio::fs::metadata(&path)
        .await
        .map_err(|_| not_found(modern, uri))?;
    if md.len() > MAX_FILE {
        return Err(invalid_params("resource too large"));
    }
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| not_found(modern, uri))?;
    let mime = mime_for(rel);
    let content = match String::from_utf8(bytes) {
        Ok(t) => json!({"uri": uri, "mimeType": mime, "text": t}),
        Err(e) => json!({
            "uri": uri, "mimeType": mime,
            "blob": base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
        }),
    };
    Ok(json!({ "contents": [content] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pr34_path_traversal_is_impossible() {
        let dir = std::env::temp_dir().join(format!("mcp-res-{}", shared::random::token()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "hello").unwrap();
        std::fs::write(dir.join("sub/b.md"), "# b").unwrap();
        let outside = std::env::temp_dir().join(format!("mcp-secret-{}", shared::random::token()));
        std::fs::write(&outside, "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, dir.join("link.txt")).unwrap();
        let fs = FileStore::new(&dir).unwrap();
        assert!(fs.resolve("a.txt").await.is_some());
        assert!(fs.resolve("sub/b.md").await.is_some());
        for bad in [
            "../a.txt",
            "sub/../../etc/passwd",
            "/etc/passwd",
            "sub\\..\\a.txt",
            "%2e%2e/a.txt",
            "a.txt\0",
            "",
            "sub",
            "link.txt",
        ] {
            assert!(fs.resolve(bad).await.is_none(), "{bad:?}");
        }
        assert_eq!(fs.list().await, vec!["a.txt", "sub/b.md"]);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&outside);
    }
}
