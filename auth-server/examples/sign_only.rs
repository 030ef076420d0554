//! The token endpoint's limit server (issue 16 C): a bare hyper 1 HTTP/1.1 server on one
//! runtime thread that answers every POST with a token response carrying a freshly signed
//! access token, signed as the authorization server signs (`auth_server::keys`, the same
//! `SigningKey::sign_jwt`, the same RFC 9068 claims and sizes), and nothing else: no routing,
//! no client authentication, no rate limit, no store, no logging. `scripts/bench.sh`
//! (`ONLY=token-limit`) measures the authorization server's `client_credentials` grant
//! against it in the same run.
//!
//! Usage: `sign_only KEYS_DIR [ADDR] [RESOURCE]` (ADDR default `127.0.0.1:0`, RESOURCE the
//! AS's default `http://127.0.0.1:3003/mcp`); prints `listening on http://ADDR`. The key is
//! loaded once at start-up from `KEYS_DIR` (the AS's key file; ES256 unless the file holds
//! another algorithm). Each request's body is read and parsed as a form; `client_id`
//! (default `mcp-service`, the Basic client of `scripts/bench/client_credentials.lua`) and
//! `scope` (default `mcp`) shape the claims, like the AS's `client_credentials` grant.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use auth_server::config::SigningAlgorithm;
use auth_server::keys::{Keys, SigningKey};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, PRAGMA};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use shared::jwt::{AccessTokenClaims, Audience};
use shared::oauth::TokenResponse;
use shared::secret::AccessToken;

/// The AS's default `access_token_ttl_secs`.
const TTL_SECS: u64 = 300;

struct Limit {
    key: Arc<SigningKey>,
    issuer: String,
    resource: String,
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res
}

async fn answer(
    limit: Arc<Limit>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::POST {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "POST only\n"));
    }
    let Ok(body) = req.into_body().collect().await else {
        return Ok(plain(StatusCode::BAD_REQUEST, "unreadable body\n"));
    };
    let body = body.to_bytes();
    let mut client_id = None;
    let mut scope = None;
    for (k, v) in form_urlencoded::parse(&body) {
        match &*k {
            "client_id" => client_id = Some(v.into_owned()),
            "scope" => scope = Some(v.into_owned()),
            _ => {}
        }
    }
    let client_id = client_id.unwrap_or_else(|| "mcp-service".into());
    let scope = scope.unwrap_or_else(|| "mcp".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = AccessTokenClaims {
        iss: limit.issuer.clone(),
        sub: client_id.clone(),
        aud: Audience::One(limit.resource.clone()),
        exp: now + TTL_SECS,
        iat: now,
        nbf: Some(now),
        jti: shared::random::token(),
        client_id,
        scope: Some(scope.clone()),
        cnf: None,
    };
    let Some(token) = limit.key.sign_jwt(&claims) else {
        return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, "signing failed\n"));
    };
    let response = TokenResponse {
        access_token: AccessToken::new(token),
        token_type: "Bearer".into(),
        expires_in: Some(TTL_SECS),
        refresh_token: None,
        scope: Some(scope),
    };
    let Ok(json) = serde_json::to_vec(&response) else {
        return Ok(plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding failed\n",
        ));
    };
    let mut res = Response::new(Full::new(Bytes::from(json)));
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(keys_dir) = args.next() else {
        eprintln!("usage: sign_only KEYS_DIR [ADDR] [RESOURCE]");
        std::process::exit(2);
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let resource = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3003/mcp".into());
    // Parsed once, here; every request only signs.
    let keys = Keys::load_or_generate(
        std::path::Path::new(&keys_dir),
        SigningAlgorithm::ES256,
        Duration::from_secs(3600),
    )
    .unwrap_or_else(|e| {
        eprintln!("keys: {e}");
        std::process::exit(2)
    });
    let key = Arc::clone(&keys.ring().current);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        let local = listener.local_addr()?;
        // The issuer the AS would have on this address (same length as the AS's in the bench).
        let limit = Arc::new(Limit {
            key,
            issuer: format!("http://{local}"),
            resource,
        });
        println!("listening on http://{local}");
        loop {
            let (stream, _) = listener.accept().await?;
            let limit = Arc::clone(&limit);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |req| answer(Arc::clone(&limit), req)),
                    )
                    .await;
            });
        }
    })
}
