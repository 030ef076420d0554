//! The CLI's settings: defaults < TOML file (`--config`, else `config/client_config.toml` if
//! present) < environment (`OAUTH2_CLIENT__KEY`) < command-line flags.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Settings from the file and the environment. `Debug` redacts the secrets.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FileConfig {
    pub(crate) server_url: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) client_metadata_url: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) client_name: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) headless: Option<bool>,
    pub(crate) open_browser: Option<bool>,
    pub(crate) grant: Option<String>,
    pub(crate) token_store: Option<String>,
    pub(crate) token_store_key_file: Option<String>,
    pub(crate) token_store_key: Option<String>,
    pub(crate) allow_insecure_http: Option<bool>,
    pub(crate) allow_insecure_local_targets: Option<bool>,
    pub(crate) request_timeout_secs: Option<u64>,
    pub(crate) login_timeout_secs: Option<u64>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) private_key_jwt: Option<String>,
    pub(crate) dpop: Option<String>,
    pub(crate) idp: Option<String>,
    pub(crate) idp_client_id: Option<String>,
}

impl std::fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileConfig")
            .field("server_url", &self.server_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("token_store", &self.token_store)
            .field(
                "token_store_key",
                &self.token_store_key.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

/// The default config file, used only if it exists.
pub(crate) const DEFAULT_CONFIG: &str = "config/client_config.toml";

/// Loads the file (required when given explicitly, else [`DEFAULT_CONFIG`] if it exists) and
/// the `OAUTH2_CLIENT__*` environment, the same way as the two servers.
pub(crate) fn load(explicit: Option<&Path>) -> Result<FileConfig, String> {
    shared::process::load_config(
        explicit,
        Some(Path::new(DEFAULT_CONFIG)),
        "OAUTH2_CLIENT",
        &[],
    )
}

/// Default token store: `$XDG_STATE_HOME/http-oauth2-client/tokens.jwe`, else
/// `~/.local/state/http-oauth2-client/tokens.jwe`; `None` without a home directory.
pub(crate) fn default_store_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("http-oauth2-client").join("tokens.jwe"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_file_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/client_config.toml");
        let c = load(Some(&p)).unwrap();
        assert_eq!(c.server_url.as_deref(), Some("http://127.0.0.1:3003/mcp"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("cli-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "srever_url = \"x\"\n").unwrap();
        assert!(load(Some(&p)).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
