//! What `BearerAuth` sends again (issue 16 C changed how it builds its future, not what it
//! sends): the one retry after a 401 (CL-34) or a 403 `insufficient_scope` (CL-35) is the same
//! request as the first attempt (method, URL, every header, body) with only the new token in
//! `Authorization`; a request whose body is a stream is not replayed, the caller sees the 401.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use http_oauth2_client::oauth::oauth_http_client;
use http_oauth2_client::oauth::token_endpoint::{ClientCredentials, TokenEndpoint};
use http_oauth2_client::{
    Authorizer, BearerAuth, ClientError, InMemoryTokenStore, StoreKey, TokenManager, TokenSet,
};
use shared::scope::ScopeSet;
use shared::secret::{AccessToken, RefreshToken};

/// One request the resource saw: method, path and query, headers (without
/// `Authorization`, in order), body; and the `Authorization` value.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    authorization: Option<String>,
}

/// How the resource refuses the first token.
#[derive(Clone, Copy)]
enum Refuse {
    /// 401 `invalid_token` for anything but `at-new` (CL-34).
    Unauthorized,
    /// 403 `insufficient_scope` (scope `b`) for anything but `at-new` (CL-35).
    InsufficientScope,
}

struct Server {
    refuse: Refuse,
    seen: Mutex<Vec<Seen>>,
    token_hits: Mutex<usize>,
}

async fn handle(State(s): State<Arc<Server>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_else(|_| Bytes::new());
    if parts.uri.path() == "/token" {
        *s.token_hits.lock().unwrap() += 1;
        let r = r#"{"access_token":"at-new","token_type":"Bearer","expires_in":3600}"#;
        return ([(header::CONTENT_TYPE, "application/json")], r).into_response();
    }
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != header::AUTHORIZATION)
        .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    s.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers,
        body: body.to_vec(),
        authorization: authorization.clone(),
    });
    if authorization.as_deref() == Some("Bearer at-new") {
        return (StatusCode::OK, "ok").into_response();
    }
    let (status, challenge) = match s.refuse {
        Refuse::Unauthorized => (StatusCode::UNAUTHORIZED, r#"Bearer error="invalid_token""#),
        Refuse::InsufficientScope => (
            StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope", scope="b""#,
        ),
    };
    let mut h = HeaderMap::new();
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    (status, h).into_response()
}

/// Answers every (step-up) authorization with `at-new`.
#[derive(Debug)]
struct NewToken;

impl Authorizer for NewToken {
    fn authorize(&self, scopes: Option<ScopeSet>) -> BoxFuture<'_, Result<TokenSet, ClientError>> {
        Box::pin(async move {
            Ok(TokenSet::new(
                AccessToken::new("at-new".into()),
                None,
                Some(3600),
                shared::clock::system().now_unix(),
                scopes.map(|s| s.to_string()),
            ))
        })
    }
}

/// The server on 127.0.0.1:0 and a `BearerAuth` client holding the fresh token `at-old`
/// (refresh token `rt-0`, scope `a`).
async fn setup(
    refuse: Refuse,
) -> (
    Arc<Server>,
    String,
    reqwest_middleware::ClientWithMiddleware,
) {
    let server = Arc::new(Server {
        refuse,
        seen: Mutex::new(Vec::new()),
        token_hits: Mutex::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let manager = TokenManager::new(
        TokenEndpoint::new(
            url::Url::parse(&format!("{base}/token")).unwrap(),
            ClientCredentials::public("cli"),
            None,
            oauth_http_client(Duration::from_secs(5), Duration::from_secs(5), 0),
        ),
        Arc::new(InMemoryTokenStore::default()),
        StoreKey::new(&base, format!("{base}/api"), "cli"),
        shared::clock::system(),
    )
    .with_authorizer(Arc::new(NewToken));
    manager.set_tokens(
        TokenSet::new(
            AccessToken::new("at-old".into()),
            Some(RefreshToken::new("rt-0".into())),
            Some(3600),
            shared::clock::system().now_unix(),
            Some("a".into()),
        ),
        Some(ScopeSet::parse("a")),
    );
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerAuth::new(
            manager,
            &url::Url::parse(&format!("{base}/")).unwrap(),
        ))
        .build();
    (server, base, client)
}

/// A request with everything a replay could lose: a method other than GET/POST, a query with
/// an escaped character, a repeated header, a custom header, a body built at run time.
async fn send_rich(base: &str, c: &reqwest_middleware::ClientWithMiddleware) -> StatusCode {
    let body = format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{}"}}"#, "tools/call");
    c.request(
        reqwest::Method::PATCH,
        format!("{base}/api/tools?x=1&y=a%20b"),
    )
    .header(header::CONTENT_TYPE, "application/json")
    .header("x-trace", "t-1")
    .header(header::ACCEPT, "application/json")
    .header("x-multi", "1")
    .header("x-multi", HeaderValue::from_static("2"))
    .body(body)
    .timeout(Duration::from_secs(30))
    .send()
    .await
    .unwrap()
    .status()
}

/// Both attempts are the same request apart from the token.
fn assert_replayed(seen: &[Seen]) {
    assert_eq!(seen.len(), 2, "one attempt and one retry: {seen:?}");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer at-old"));
    assert_eq!(seen[1].authorization.as_deref(), Some("Bearer at-new"));
    let strip = |s: &Seen| Seen {
        authorization: None,
        ..s.clone()
    };
    assert_eq!(strip(&seen[0]), strip(&seen[1]));
    let first = &seen[0];
    assert_eq!(first.method, "PATCH");
    assert_eq!(first.uri, "/api/tools?x=1&y=a%20b");
    assert_eq!(
        first.body,
        br#"{"jsonrpc":"2.0","id":7,"method":"tools/call"}"#.to_vec()
    );
    let values = |name: &str| -> Vec<&[u8]> {
        first
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    };
    assert_eq!(values("x-multi"), vec![b"1".as_slice(), b"2".as_slice()]);
    assert_eq!(values("x-trace"), vec![b"t-1".as_slice()]);
    assert_eq!(values("content-type"), vec![b"application/json".as_slice()]);
}

/// CL-34: after a 401 the retry is the same request (method, URL, headers, body) with the
/// refreshed token.
#[tokio::test]
async fn the_retry_after_a_401_is_the_same_request_with_the_new_token_cl34() {
    let (server, base, c) = setup(Refuse::Unauthorized).await;
    assert_eq!(send_rich(&base, &c).await, StatusCode::OK);
    assert_eq!(*server.token_hits.lock().unwrap(), 1, "one refresh");
    assert_replayed(&server.seen.lock().unwrap());
}

/// CL-35: after a 403 `insufficient_scope` the retry is the same request with the stepped-up
/// token.
#[tokio::test]
async fn the_retry_after_a_403_step_up_is_the_same_request_with_the_new_token_cl35() {
    let (server, base, c) = setup(Refuse::InsufficientScope).await;
    assert_eq!(send_rich(&base, &c).await, StatusCode::OK);
    assert_eq!(
        *server.token_hits.lock().unwrap(),
        0,
        "a step-up, not a refresh"
    );
    assert_replayed(&server.seen.lock().unwrap());
}

/// CL-34: a streaming body cannot be replayed: one attempt, no refresh, the caller gets the
/// 401.
#[tokio::test]
async fn a_streaming_body_is_not_replayed_after_a_401_cl34() {
    let (server, base, c) = setup(Refuse::Unauthorized).await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"a\":")),
        Ok(Bytes::from_static(b"1}")),
    ];
    let resp = c
        .post(format!("{base}/api"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(*server.token_hits.lock().unwrap(), 0);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, b"{\"a\":1}".to_vec());
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer at-old"));
}
