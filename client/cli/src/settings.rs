//! The client configuration from flags, the TOML file and `OAUTH2_CLIENT__*` variables.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_oauth2_client::oauth::enterprise::EnterpriseLogin;
use http_oauth2_client::{
    ClientError, DpopMode, FileTokenStore, InMemoryTokenStore, LoginMode, OAuthConfig, TokenStore,
};
use shared::secret::ClientSecret;

use crate::args::GlobalOpts;
use crate::config;
use crate::failure::Failure;

pub(crate) fn build_config(
    opts: &GlobalOpts,
    file: &config::FileConfig,
    url: &str,
) -> Result<OAuthConfig, Failure> {
    let mut b = OAuthConfig::builder(url);
    if let Some(id) = opts.client_id.clone().or(file.client_id.clone()) {
        b = b.client_id(id);
    }
    if let Some(s) = opts
        .client_secret
        .clone()
        .or(file.client_secret.clone())
        .filter(|s| !s.is_empty())
    {
        b = b.client_secret(ClientSecret::new(s));
    }
    if let Some(path) = opts.private_key_jwt.clone().or(file
        .private_key_jwt
        .clone()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from))
    {
        b = b.private_key_jwt_file(&path).map_err(|e| {
            Failure::usage(
                e.to_string(),
                "pass an unencrypted PKCS#8 PEM private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)",
            )
        })?;
    }
    let dpop = match (opts.dpop, opts.no_dpop, file.dpop.as_deref()) {
        (true, _, _) | (false, false, Some("always")) => DpopMode::Always,
        (_, true, _) | (false, false, Some("never")) => DpopMode::Never,
        (false, false, None | Some("auto")) => DpopMode::Auto,
        (false, false, Some(other)) => {
            return Err(Failure::usage(
                format!("unknown dpop setting `{other}`"),
                "use \"auto\", \"always\" or \"never\"",
            ));
        }
    };
    b = b.dpop(dpop);
    if let Some(u) = opts
        .client_metadata_url
        .clone()
        .or(file.client_metadata_url.clone())
    {
        b = b.client_metadata_url(u);
    }
    if let Some(i) = opts.issuer.clone().or(file.issuer.clone()) {
        b = b.issuer(i);
    }
    if let Some(n) = &file.client_name {
        b = b.client_name(n.clone());
    }
    if let Some(s) = opts.scope.clone().or(file.scope.clone()) {
        b = b.scopes(&s);
    }
    if let Some(r) = &file.redirect_uri {
        b = b.redirect_uri(r.clone());
    }
    let client_credentials =
        opts.client_credentials || file.grant.as_deref() == Some("client_credentials");
    if let Some(g) = file.grant.as_deref()
        && !matches!(g, "authorization_code" | "client_credentials")
    {
        return Err(Failure::usage(
            format!("unknown grant `{g}`"),
            "use \"authorization_code\" or \"client_credentials\"",
        ));
    }
    let mode = if client_credentials {
        LoginMode::ClientCredentials
    } else if opts.headless || file.headless == Some(true) {
        LoginMode::Headless
    } else if opts.no_browser || file.open_browser == Some(false) {
        LoginMode::InteractiveNoBrowser
    } else {
        LoginMode::Interactive
    };
    b = b
        .login_mode(mode)
        .on_login_event(crate::login_ui::printer());
    if opts.insecure_http || file.allow_insecure_http == Some(true) {
        b = b.allow_insecure_http();
    }
    if opts.insecure_local_targets || file.allow_insecure_local_targets == Some(true) {
        b = b.allow_insecure_local_targets();
    }
    if let Some(path) = &opts.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::usage(
                format!("cannot read --ca-cert {}: {e}", path.display()),
                "pass a PEM file with the CA certificate",
            )
        })?;
        b = b.add_root_certificate_pem(&pem).map_err(|e| {
            Failure::usage(
                format!("--ca-cert {}: {e}", path.display()),
                "pass a PEM file with the CA certificate",
            )
        })?;
    }
    if let Some(t) = opts.timeout.or(file.request_timeout_secs) {
        b = b.request_timeout(Duration::from_secs(t.max(1)));
    }
    if let Some(t) = file.login_timeout_secs {
        b = b.login_timeout(Duration::from_secs(t.max(1)));
    }
    if let Some(n) = file.max_retries {
        b = b.max_retries(n);
    }
    let store = open_store(opts, file)?;
    let idp = opts
        .idp
        .clone()
        .or(file.idp.clone())
        .filter(|s| !s.is_empty());
    if let Some(idp) = idp {
        let Some(idp_client) = opts.idp_client_id.clone().or(file.idp_client_id.clone()) else {
            return Err(Failure::usage(
                "enterprise login (idp) needs the client id at the identity provider".to_owned(),
                "set --idp-client-id (config idp_client_id)",
            ));
        };
        // The user signs in at the IdP the way they would sign in at an MCP AS.
        let idp_mode = if mode == LoginMode::ClientCredentials {
            LoginMode::Headless
        } else {
            mode
        };
        let mut e = EnterpriseLogin::builder(idp, idp_client)
            .login_mode(idp_mode)
            .token_store(store.clone());
        if opts.insecure_http || file.allow_insecure_http == Some(true) {
            e = e.allow_insecure_http();
        }
        let flow = e
            .build()
            .map_err(|e| Failure::from(ClientError::Config(e)))?;
        b = b.login_flow(Arc::new(flow));
    }
    b = b.with_token_store(store);
    b.build().map_err(|e| Failure::from(ClientError::Config(e)))
}

pub(crate) fn open_store(
    opts: &GlobalOpts,
    file: &config::FileConfig,
) -> Result<Arc<dyn TokenStore>, Failure> {
    let path = opts
        .token_store
        .clone()
        .or(file.token_store.clone())
        .map(PathBuf::from)
        .or_else(config::default_store_path);
    let Some(path) = path.filter(|p| p.as_os_str() != "memory") else {
        return Ok(Arc::new(InMemoryTokenStore::default()));
    };
    let store = if let Some(key) = file.token_store_key.as_deref().filter(|k| !k.is_empty()) {
        FileTokenStore::with_key_text(path, key)
    } else if let Some(kf) = &file.token_store_key_file {
        FileTokenStore::with_key_file(path, kf)
    } else {
        FileTokenStore::open(path)
    };
    Ok(Arc::new(store.map_err(Failure::from)?))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::Cli;
    use crate::failure::EXIT_USAGE;

    fn build(args: &[&str]) -> Result<OAuthConfig, Failure> {
        let cli = Cli::try_parse_from(
            ["http-oauth2-client", "--token-store", "memory"]
                .iter()
                .chain(args),
        )
        .unwrap();
        build_config(
            &cli.opts,
            &config::FileConfig::default(),
            "http://127.0.0.1:3003/mcp",
        )
    }

    /// Issue 11 item 11: `--client-secret` without `--issuer` exits 2 (configuration).
    #[test]
    fn a_client_secret_without_an_issuer_exits_2_cl16() {
        let f = build(&["--client-id", "svc", "--client-secret", "s3cret"]).unwrap_err();
        assert_eq!(f.code, EXIT_USAGE, "{}", f.message);
        assert!(f.message.contains("issuer"), "{}", f.message);
        assert!(!f.message.contains("s3cret"), "{}", f.message);
        assert!(
            build(&[
                "--client-id",
                "svc",
                "--client-secret",
                "s3cret",
                "--issuer",
                "http://127.0.0.1:3002",
            ])
            .is_ok()
        );
    }

    /// `--dpop` / `--no-dpop` (issue 15): forced, off, or automatic by default.
    #[test]
    fn dpop_flags_choose_the_mode_ex01() {
        assert_eq!(build(&[]).unwrap().dpop_mode(), DpopMode::Auto);
        assert_eq!(build(&["--dpop"]).unwrap().dpop_mode(), DpopMode::Always);
        assert_eq!(build(&["--no-dpop"]).unwrap().dpop_mode(), DpopMode::Never);
    }

    /// `--private-key-jwt` (issue 15): a usable PEM key with --client-id and --issuer makes a
    /// client-credentials client without a secret; a bad file exits 2.
    #[test]
    fn private_key_jwt_reads_a_pem_key_and_refuses_bad_files_ex30() {
        let dir = std::env::temp_dir().join(format!("cli-pkjwt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("key.pem");
        let key = shared::dpop::SigningKey::generate(shared::dpop::Algorithm::ES256).unwrap();
        std::fs::write(&good, key.private_pem()).unwrap();
        let bad = dir.join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let base = [
            "--client-id",
            "svc",
            "--issuer",
            "http://127.0.0.1:3002",
            "--client-credentials",
        ];
        let with = |p: &std::path::Path| {
            let p = p.to_str().unwrap();
            let mut a: Vec<&str> = base.to_vec();
            a.extend(["--private-key-jwt", p]);
            build(&a)
        };
        assert!(with(&good).is_ok());
        let f = with(&bad).unwrap_err();
        assert_eq!(f.code, EXIT_USAGE, "{}", f.message);
        let f = with(&dir.join("missing.pem")).unwrap_err();
        assert_eq!(f.code, EXIT_USAGE, "{}", f.message);
        // Without a secret or a key, client credentials is a configuration error.
        assert!(build(&base).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// `--idp` (issue 15 enterprise mode) makes the login an ID-JAG exchange; without
    /// `--idp-client-id` it is a usage error.
    #[test]
    fn idp_flags_configure_the_enterprise_login_ex24() {
        let c = build(&["--idp", "http://127.0.0.1:3009", "--idp-client-id", "app"]).unwrap();
        assert!(format!("{c:?}").contains("EnterpriseLogin"), "{c:?}");
        assert!(
            Cli::try_parse_from(["http-oauth2-client", "--idp", "http://127.0.0.1:3009"]).is_err()
        );
        let without = build(&[]).unwrap();
        assert!(!format!("{without:?}").contains("EnterpriseLogin"));
    }
}
