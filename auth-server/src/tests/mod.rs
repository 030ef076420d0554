//! In-process tests of the whole router (every layer included) through
//! `tower::ServiceExt::oneshot`: no sockets, so they run in milliseconds. The socket-level
//! tests live in the `tests` crate.

mod authorize;
mod discovery;
mod dpop;
mod dpop_jkt;
mod idjag;
mod private_key_jwt;
mod refresh;
mod register;
mod revoke_introspect;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use shared::pkce::{PkceChallenge, PkceVerifier};
use tower::ServiceExt as _;

use crate::config::SigningAlgorithm;
use crate::keys::Keys;
use crate::{AppState, Config, router};

const ISSUER: &str = "http://127.0.0.1:9";
const RESOURCE: &str = "http://127.0.0.1:3003/mcp";
const PUBLIC_CLIENT: &str = "mcp-cli";
/// A redirect URI matching the public client's registered loopback one (any port).
const REDIRECT: &str = "http://127.0.0.1:5555/callback";
const SERVICE: (&str, &str) = ("mcp-service", "dev-service-secret");
const INTROSPECTOR: (&str, &str) = ("mcp-server", "dev-mcp-server-secret");

/// A response with its body read.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts an RFC 6749 §5.2 error: status, exact body, `no-store`.
    #[track_caller]
    fn assert_oauth_error(&self, status: StatusCode, error: &str, description: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.json(),
            serde_json::json!({ "error": error, "error_description": description })
        );
        assert_eq!(self.header(header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(self.header(header::PRAGMA), Some("no-cache"));
    }

    /// Asserts a 401 `invalid_client` with this description and `WWW-Authenticate` challenge.
    #[track_caller]
    fn assert_invalid_client(&self, description: &str, challenge: &str) {
        self.assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
        assert_eq!(self.header(header::WWW_AUTHENTICATE), Some(challenge));
    }

    /// Asserts a 200 JSON document served with `Cache-Control: public, max-age=300`.
    #[track_caller]
    fn assert_public_json(&self) -> serde_json::Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        assert_eq!(self.header(header::CONTENT_TYPE), Some("application/json"));
        assert_eq!(
            self.header(header::CACHE_CONTROL),
            Some("public, max-age=300")
        );
        assert_eq!(self.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
        self.json()
    }

    /// Asserts a success with `Cache-Control: no-store` and returns its JSON body.
    #[track_caller]
    fn assert_no_store_json(&self, status: StatusCode) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header(header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(self.header(header::PRAGMA), Some("no-cache"));
        self.json()
    }

    /// The `Location` of a 303, parsed, with its query as ordered pairs.
    #[track_caller]
    fn redirect(&self) -> (url::Url, Vec<(String, String)>) {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.text());
        let url = url::Url::parse(self.header(header::LOCATION).expect("Location")).unwrap();
        let query = url.query_pairs().into_owned().collect();
        (url, query)
    }
}

/// The router over fresh state (ES256 ephemeral keys, the default config, fixed issuer).
struct Server {
    state: Arc<AppState>,
    router: Router,
}

impl Server {
    fn new() -> Self {
        Self::with(|_| {})
    }

    fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::with_issuer(ISSUER, tweak)
    }

    fn with_issuer(issuer: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::with_clock(issuer, shared::clock::TestClock::starting_now(), tweak)
    }

    fn with_clock(
        issuer: &str,
        clock: shared::clock::TestClock,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::default();
        tweak(&mut config);
        let keys = Arc::new(Keys::ephemeral(SigningAlgorithm::ES256).unwrap());
        let state = AppState::new(config, issuer.to_owned(), keys, Arc::new(clock)).unwrap();
        Self {
            router: router(state.clone()),
            state,
        }
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes().to_vec(),
        }
    }

    async fn get(&self, path_and_query: &str) -> Reply {
        self.send(Request::get(path_and_query).body(Body::empty()).unwrap())
            .await
    }

    /// A form POST; `basic` adds HTTP Basic client authentication.
    async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        self.post_form_with(path, form, basic, &[]).await
    }

    /// [`Server::post_form`] with extra headers (e.g. `DPoP`).
    async fn post_form_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let body = serde_urlencoded::to_string(form).unwrap();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some((id, secret)) = basic {
            let creds = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            req = req.header(header::AUTHORIZATION, format!("Basic {creds}"));
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// `POST /token`.
    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        self.post_form("/token", form, basic).await
    }

    /// `GET /authorize` for the public client with a fresh PKCE pair, plus `extra` parameters;
    /// returns the reply and the verifier.
    async fn authorize(&self, extra: &[(&str, &str)]) -> (Reply, PkceVerifier) {
        let verifier = PkceVerifier::generate();
        let challenge = PkceChallenge::s256(&verifier);
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", PUBLIC_CLIENT),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        query.extend_from_slice(extra);
        let q = serde_urlencoded::to_string(&query).unwrap();
        (self.get(&format!("/authorize?{q}")).await, verifier)
    }

    /// A code for the public client (auto-approve) and its verifier.
    async fn code(&self) -> (String, PkceVerifier) {
        let (reply, verifier) = self.authorize(&[]).await;
        let (_, query) = reply.redirect();
        let code = query
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("code");
        (code, verifier)
    }

    /// Exchanges a code for the public client.
    async fn exchange(&self, code: &str, verifier: &str) -> Reply {
        self.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC_CLIENT),
                ("code", code),
                ("code_verifier", verifier),
                ("redirect_uri", REDIRECT),
            ],
            None,
        )
        .await
    }

    /// `POST /introspect` as the MCP server's confidential client.
    async fn introspect(&self, token: &str) -> serde_json::Value {
        self.post_form("/introspect", &[("token", token)], Some(INTROSPECTOR))
            .await
            .assert_no_store_json(StatusCode::OK)
    }

    /// A `client_credentials` token response for the service client.
    async fn service_token(&self) -> serde_json::Value {
        self.post_form(
            "/token",
            &[("grant_type", "client_credentials")],
            Some(SERVICE),
        )
        .await
        .assert_no_store_json(StatusCode::OK)
    }

    /// A token response for the public client (access and refresh token).
    async fn tokens(&self) -> serde_json::Value {
        let (code, verifier) = self.code().await;
        self.exchange(&code, verifier.secret())
            .await
            .assert_no_store_json(StatusCode::OK)
    }
}
