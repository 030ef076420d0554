//! Form bodies and query strings, parsed strictly (checklist AS-11, AS-29), and the
//! [`FormPost`] extractor the token, revocation and introspection endpoints share.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;

/// Parameters of a form body or query string, parsed strictly (checklist AS-11, AS-29):
/// repeated parameters are an error, empty values count as absent, unknown ones are ignored.
#[derive(Debug, Default)]
pub(crate) struct Params {
    map: HashMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(bytes) {
            if v.is_empty() {
                continue;
            }
            if p.map.contains_key(k.as_ref()) {
                if !p.repeated.iter().any(|r| r == k.as_ref()) {
                    p.repeated.push(k.into_owned());
                }
                continue;
            }
            p.map.insert(k.into_owned(), v.into_owned());
        }
        p
    }

    /// A parameter value.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Whether `key` was repeated.
    pub(crate) fn is_repeated(&self, key: &str) -> bool {
        self.repeated.iter().any(|r| r == key)
    }

    /// Fails with `invalid_request` if any parameter was repeated.
    pub(crate) fn reject_repeated(&self) -> Result<(), OAuthError> {
        match self.repeated.first() {
            Some(k) => Err(OAuthError::invalid_request(format!(
                "parameter {k} is repeated"
            ))),
            None => Ok(()),
        }
    }

    /// A required parameter.
    pub(crate) fn require(&self, key: &str) -> Result<&str, OAuthError> {
        self.get(key)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {key}")))
    }
}

/// Checks the request is a form post (AS-29).
fn require_form(headers: &HeaderMap) -> Result<(), OAuthError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "content type must be application/x-www-form-urlencoded",
        ))
    }
}

/// A form POST to `/token`, `/revoke` or `/introspect`: the body read (axum's limits apply),
/// the content type checked, then the parameters parsed with no repeats. The headers stay
/// for client authentication. A failure is the response: axum's body rejection as axum
/// renders it, or an RFC 6749 `invalid_request`.
///
/// Not `axum::Form`: its failures are axum's plain-text 4xx rather than RFC 6749 JSON, and
/// these endpoints share [`Params`] with `/authorize`'s query (empty values count as absent,
/// a repeated parameter is refused by name, AS-11).
#[derive(Debug)]
pub(crate) struct FormPost {
    /// The request headers (`Authorization` for HTTP Basic client authentication).
    pub(crate) headers: HeaderMap,
    /// The body parameters.
    pub(crate) params: Params,
}

impl<S: Send + Sync> FromRequest<S> for FormPost {
    type Rejection = Response;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Response> {
        // Moved out rather than cloned: axum's `Bytes` extractor reads only the body and the
        // body-limit extension, never the headers.
        let headers = std::mem::take(req.headers_mut());
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = form_params(&headers, &body).map_err(IntoResponse::into_response)?;
        Ok(Self { headers, params })
    }
}

fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    require_form(headers)?;
    let params = Params::parse(body);
    params.reject_repeated()?;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_parameters_as11() {
        let p = Params::parse(b"a=1&a=2&b=&c=3");
        assert!(p.is_repeated("a"));
        assert!(p.get("b").is_none());
        assert_eq!(p.get("c"), Some("3"));
        assert!(p.reject_repeated().is_err());
    }

    #[test]
    fn form_content_type_is_required_as29() {
        let mut h = HeaderMap::new();
        assert!(form_params(&h, b"a=1").is_err());
        h.insert(
            header::CONTENT_TYPE,
            "Application/X-WWW-Form-Urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        assert_eq!(form_params(&h, b"a=1").unwrap().get("a"), Some("1"));
    }
}
