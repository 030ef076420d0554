//! Obtaining the authorization code: [`headless_authorize`] (fetches the authorization URL
//! and reads the redirect's `Location`; works with an auto-approving server) and the
//! interactive RFC 8252 loopback flow ([`LoopbackListener`], [`open_browser`]; CL-27, CL-28).

use std::time::Duration;

use futures_util::future::BoxFuture;
use shared::oauth::TokenResponse;
use shared::scope::ScopeSet;
use shared::secret::AuthorizationCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use url::Url;

use super::authorize::AuthorizationRequest;
use crate::error::ClientError;

/// Whether `candidate` is the redirect URI (same scheme, host and path; any port for loopback).
fn is_redirect_target(candidate: &Url, redirect_uri: &str) -> bool {
    let Ok(r) = Url::parse(redirect_uri) else {
        return false;
    };
    let base = |u: &Url| {
        let mut u = u.clone();
        u.set_query(None);
        u.set_fragment(None);
        u.to_string()
    };
    shared::urls::redirect_uri_matches(&base(&r), &base(candidate))
}

/// Headless login: GET the authorization URL with redirects disabled and follow the
/// authorization server's own redirects (same origin, at most 5) until one targets the
/// redirect URI, then validate it (state, iss) and return the code. Cookies the server sets
/// along the chain are sent back, as a browser would (providers bind the login interaction
/// to a cookie); the jar (reqwest's) is fresh for every login and dropped after it.
#[tracing::instrument(skip_all)]
pub async fn headless_authorize(
    http: &reqwest::Client,
    req: &AuthorizationRequest,
) -> Result<AuthorizationCode, ClientError> {
    use reqwest::cookie::CookieStore as _;
    let mut url = req.url().clone();
    let as_origin = url.origin();
    let jar = reqwest::cookie::Jar::default();
    for _ in 0..5 {
        let mut get = http.get(url.clone());
        if let Some(cookies) = jar.cookies(&url) {
            get = get.header(http::header::COOKIE, cookies);
        }
        let resp = get.send().await?;
        jar.set_cookies(
            &mut resp.headers().get_all(http::header::SET_COOKIE).iter(),
            &url,
        );
        let status = resp.status();
        if status.is_redirection() {
            let loc = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ClientError::AuthorizationResponse("redirect without Location".into())
                })?;
            let next = url.join(loc).map_err(|e| {
                ClientError::AuthorizationResponse(format!("invalid Location: {e}"))
            })?;
            if is_redirect_target(&next, req.redirect_uri()) {
                return req.validate_redirect(&next);
            }
            if next.origin() != as_origin {
                return Err(ClientError::AuthorizationResponse(format!(
                    "the authorization server redirected to {} (neither itself nor the redirect URI)",
                    next.origin().ascii_serialization()
                )));
            }
            url = next;
            continue;
        }
        if status.is_success() {
            return Err(ClientError::AuthorizationRequired(
                "the authorization server shows a login or consent page: headless login needs an auto-approving server; run without --headless to use the browser".into(),
            ));
        }
        let body = super::read_limited(resp, 16 * 1024)
            .await
            .unwrap_or_default();
        let detail = serde_json::from_slice::<shared::oauth::ErrorResponse>(&body)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| format!("HTTP {status}"));
        return Err(ClientError::AuthorizationResponse(format!(
            "the authorization endpoint refused the request: {detail}"
        )));
    }
    Err(ClientError::AuthorizationResponse(
        "too many redirects at the authorization server".into(),
    ))
}

/// A loopback listener on an ephemeral port, open only for the duration of one login
/// (CL-28). Binds `127.0.0.1` (or `[::1]` if the redirect template says so), never
/// `localhost`.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: Url,
}

impl LoopbackListener {
    /// Binds an ephemeral port and derives the redirect URI from `template`
    /// (e.g. `http://127.0.0.1/callback` → `http://127.0.0.1:PORT/callback`).
    pub async fn bind(template: &Url) -> Result<Self, ClientError> {
        let ip: std::net::IpAddr = match template.host() {
            Some(url::Host::Ipv6(ip)) => ip.into(),
            _ => std::net::Ipv4Addr::LOCALHOST.into(),
        };
        let listener = TcpListener::bind((ip, 0))
            .await
            .map_err(|e| ClientError::transport("cannot bind a loopback port", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| ClientError::transport("cannot read the loopback address", e))?
            .port();
        let mut redirect_uri = template.clone();
        let _ = redirect_uri.set_ip_host(ip);
        let _ = redirect_uri.set_port(Some(port));
        Ok(Self {
            listener,
            redirect_uri,
        })
    }

    /// The redirect URI to register and send.
    pub fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// Waits for the browser's redirect (at most `timeout`), answers it with a small page
    /// (no scripts, no third-party resources) and returns the validated code.
    pub async fn wait(
        self,
        req: &AuthorizationRequest,
        timeout: Duration,
    ) -> Result<AuthorizationCode, ClientError> {
        let res = tokio::time::timeout(timeout, self.accept_loop(req)).await;
        res.map_err(|_| {
            ClientError::timeout(format!(
                "no browser redirect within {}s; run the login again (or use --headless against an auto-approving server)",
                timeout.as_secs()
            ))
        })?
    }

    async fn accept_loop(
        &self,
        req: &AuthorizationRequest,
    ) -> Result<AuthorizationCode, ClientError> {
        loop {
            let (mut stream, _) =
                self.listener.accept().await.map_err(|e| {
                    ClientError::transport("accepting the browser redirect failed", e)
                })?;
            // Read the request head (bounded to 8 KiB).
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            let head_ok = loop {
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
                    Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break false,
                    Ok(Ok(n)) => {
                        buf.extend_from_slice(&chunk[..n]);
                        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            break true;
                        }
                        if buf.len() > 8192 {
                            break false;
                        }
                    }
                }
            };
            if !head_ok {
                continue;
            }
            let head = String::from_utf8_lossy(&buf);
            let target = head
                .lines()
                .next()
                .and_then(|l| {
                    let mut p = l.split(' ');
                    (p.next() == Some("GET")).then(|| p.next()).flatten()
                })
                .unwrap_or("")
                .to_owned();
            let Ok(full) = self.redirect_uri.join(&target) else {
                let _ = respond(&mut stream, 400, "Bad request").await;
                continue;
            };
            if full.path() != self.redirect_uri.path() {
                let _ = respond(&mut stream, 404, "Not found").await;
                continue;
            }
            if !req.state_matches(&full) {
                // CL-23: discard a response without our state and keep waiting, so a stray
                // or forged request cannot end the login.
                tracing::warn!("discarded a loopback redirect without the expected state");
                let _ = respond(
                    &mut stream,
                    400,
                    "This response does not belong to the pending login and was ignored.",
                )
                .await;
                continue;
            }
            let result = req.validate_redirect(&full);
            let page = match &result {
                Ok(_) => {
                    "Authorization complete. You can close this window and return to the terminal."
                        .to_owned()
                }
                Err(e) => format!(
                    "Authorization failed: {}. Return to the terminal.",
                    html_escape(&e.to_string())
                ),
            };
            let _ = respond(&mut stream, if result.is_ok() { 200 } else { 400 }, &page).await;
            return result;
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn respond(
    stream: &mut tokio::net::TcpStream,
    status: u16,
    text: &str,
) -> std::io::Result<()> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>http-oauth2-client</title></head><body><p>{text}</p></body></html>"
    );
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nContent-Security-Policy: default-src 'none'\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

/// What the interactive login tells the program driving it, so that a command-line tool can
/// print the URL and show a spinner, and a GUI can show a dialog. The library itself never
/// writes to the terminal.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginEvent<'a> {
    /// The user must open `url` to authorize (the browser was opened if `browser_opened`).
    OpenUrl {
        /// The authorization URL (carries `state` and the PKCE challenge, no secret).
        url: &'a Url,
        /// Whether a browser was started on it.
        browser_opened: bool,
    },
    /// The loopback listener waits for the browser's redirect, at most `timeout`.
    Waiting {
        /// How long it waits.
        timeout: Duration,
    },
    /// The wait is over (a redirect arrived, or it failed or timed out).
    WaitEnded,
}

/// A [`LoginEvent`] callback, set with [`crate::OAuthConfigBuilder::on_login_event`].
#[derive(Clone)]
pub struct LoginObserver(std::sync::Arc<dyn Fn(&LoginEvent<'_>) + Send + Sync>);

impl LoginObserver {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&LoginEvent<'_>) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }

    /// Tells the callback.
    pub fn notify(&self, event: &LoginEvent<'_>) {
        (self.0)(event);
    }
}

impl std::fmt::Debug for LoginObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginObserver(..)")
    }
}

/// The observer used when none is set: the URL is logged at INFO through `tracing`.
pub(crate) fn log_login_event(event: &LoginEvent<'_>) {
    if let LoginEvent::OpenUrl {
        url,
        browser_opened,
    } = event
    {
        tracing::info!(browser_opened, "open this URL to authorize: {url}");
    }
}

/// Opens `url` in the system browser through the OS opener (never a shell; CL-09, CL-27).
/// Returns whether an opener could be started.
pub fn open_browser(url: &Url) -> bool {
    if !matches!(url.scheme(), "https" | "http") {
        return false;
    }
    let (cmd, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![])
    } else if cfg!(target_os = "windows") {
        ("rundll32", vec!["url.dll,FileProtocolHandler"])
    } else {
        ("xdg-open", vec![])
    };
    std::process::Command::new(cmd)
        .args(args)
        .arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// What a [`LoginFlow`] works with: the authorization server (already discovered and
/// validated), the client id obtained there, the resource, and the token endpoint bound to
/// both (it sends `resource`, and authenticates a confidential client).
#[derive(Debug)]
pub struct LoginContext {
    pub(crate) metadata: shared::oauth::AuthorizationServerMetadata,
    pub(crate) client_id: String,
    pub(crate) redirect_template: Url,
    pub(crate) resource: String,
    pub(crate) insecure: bool,
    pub(crate) login_timeout: Duration,
    pub(crate) endpoint: super::token_endpoint::TokenEndpoint,
    pub(crate) on_login_event: LoginObserver,
    pub(crate) headless_http: reqwest::Client,
}

impl LoginContext {
    /// The authorization server's validated metadata.
    pub fn metadata(&self) -> &shared::oauth::AuthorizationServerMetadata {
        &self.metadata
    }
    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }
    /// The client id in use at this authorization server.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The resource (PRM `resource`) the tokens are for, as sent in RFC 8707 `resource`;
    /// empty when the configuration omits that parameter (`omit_resource_parameter`).
    pub fn resource(&self) -> &str {
        &self.resource
    }
    /// The configured redirect URI (a loopback template: the port is chosen per login).
    pub fn redirect_template(&self) -> &Url {
        &self.redirect_template
    }
    /// The token endpoint (code exchange, `client_credentials`).
    pub fn token_endpoint(&self) -> &super::token_endpoint::TokenEndpoint {
        &self.endpoint
    }
    /// A new authorization request (PKCE S256, `state`, `resource`) for `redirect_uri`;
    /// with `dpop_jkt` (RFC 9449 §10) when this session uses DPoP, so the code can only be
    /// redeemed with the session's key.
    pub fn authorization_request(
        &self,
        redirect_uri: &str,
        scopes: Option<&ScopeSet>,
    ) -> Result<AuthorizationRequest, ClientError> {
        let req = AuthorizationRequest::new(
            &self.metadata,
            &self.client_id,
            redirect_uri,
            scopes,
            &self.resource,
            self.insecure,
        )?;
        Ok(match self.endpoint.dpop() {
            Some(key) => req.with_dpop_jkt(&key.thumbprint()),
            None => req,
        })
    }
}

/// How tokens are obtained once a server has asked for authorization and the client knows
/// its authorization server and client id (ADR 0006). The built-in flows are the
/// [`crate::LoginMode`]s (browser, headless, client credentials, and `Never`, which fails
/// with [`ClientError::AuthorizationRequired`]); an application plugs in its own with
/// [`crate::OAuthConfigBuilder::login_flow`]. Closures satisfy it too.
///
/// ```
/// use http_oauth2_client::oauth::login::{LoginContext, LoginFlow};
/// use http_oauth2_client::ClientError;
/// use shared::scope::ScopeSet;
/// # use futures_util::future::BoxFuture;
/// #[derive(Debug)]
/// struct Refuse;
/// impl LoginFlow for Refuse {
///     fn login<'a>(&'a self, cx: &'a LoginContext, _scopes: Option<ScopeSet>)
///         -> BoxFuture<'a, Result<shared::oauth::TokenResponse, ClientError>> {
///         Box::pin(async move {
///             Err(ClientError::AuthorizationRequired(format!("log in at {}", cx.issuer())))
///         })
///     }
/// }
/// ```
pub trait LoginFlow: Send + Sync + std::fmt::Debug + 'static {
    /// Obtains tokens for `scopes` (`None`: let the server choose).
    fn login<'a>(
        &'a self,
        cx: &'a LoginContext,
        scopes: Option<ScopeSet>,
    ) -> BoxFuture<'a, Result<TokenResponse, ClientError>>;
}

impl LoginFlow for crate::LoginMode {
    fn login<'a>(
        &'a self,
        cx: &'a LoginContext,
        scopes: Option<ScopeSet>,
    ) -> BoxFuture<'a, Result<TokenResponse, ClientError>> {
        Box::pin(builtin_login(*self, cx, scopes))
    }
}

async fn builtin_login(
    mode: crate::LoginMode,
    cx: &LoginContext,
    scopes: Option<ScopeSet>,
) -> Result<TokenResponse, ClientError> {
    use crate::LoginMode;
    match mode {
        LoginMode::Never => Err(ClientError::AuthorizationRequired(format!(
            "{} asks for authorization by {}, and this client does not log in on its own (login mode `never`): log in first",
            cx.resource,
            cx.issuer()
        ))),
        LoginMode::ClientCredentials => cx.endpoint.client_credentials(scopes.as_ref()).await,
        LoginMode::Headless => {
            let req = cx.authorization_request(cx.redirect_template.as_str(), scopes.as_ref())?;
            let code = headless_authorize(&cx.headless_http, &req).await?;
            cx.endpoint
                .exchange_code(&code, req.verifier(), req.redirect_uri())
                .await
        }
        LoginMode::Interactive | LoginMode::InteractiveNoBrowser => {
            let listener = LoopbackListener::bind(&cx.redirect_template).await?;
            let req = cx.authorization_request(listener.redirect_uri(), scopes.as_ref())?;
            let opened = mode == LoginMode::Interactive && open_browser(req.url());
            cx.on_login_event.notify(&LoginEvent::OpenUrl {
                url: req.url(),
                browser_opened: opened,
            });
            cx.on_login_event.notify(&LoginEvent::Waiting {
                timeout: cx.login_timeout,
            });
            let code = listener.wait(&req, cx.login_timeout).await;
            cx.on_login_event.notify(&LoginEvent::WaitEnded);
            let code = code?;
            cx.endpoint
                .exchange_code(&code, req.verifier(), req.redirect_uri())
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_target_matches_loopback_any_port() {
        let t = |u: &str| Url::parse(u).unwrap();
        assert!(is_redirect_target(
            &t("http://127.0.0.1:4444/callback?code=x"),
            "http://127.0.0.1/callback"
        ));
        assert!(!is_redirect_target(
            &t("http://127.0.0.1:4444/other?code=x"),
            "http://127.0.0.1/callback"
        ));
        assert!(!is_redirect_target(
            &t("http://evil.example/callback"),
            "http://127.0.0.1/callback"
        ));
    }
}
