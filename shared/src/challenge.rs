//! `WWW-Authenticate` challenges, both directions: [`BearerChallenge`] writes the RFC 6750 §3
//! Bearer challenge with the RFC 9728 `resource_metadata` parameter (the resource server's
//! side), [`parse_www_authenticate`] reads any challenge list (RFC 9110 §11.6.1: several
//! challenges per header, case-insensitive scheme and parameter names, quoted-string and
//! token values; the client's side, checklist CL-01).
//!
//! ```
//! use shared::challenge::{BearerChallenge, parse_www_authenticate};
//! use shared::scope::ScopeSet;
//!
//! let scope = ScopeSet::parse("mcp:tools:call");
//! let value = BearerChallenge::new("https://rs/.well-known/oauth-protected-resource/mcp")
//!     .error("insufficient_scope", "the access token lacks a scope this request needs")
//!     .scope(&scope)
//!     .build();
//! let c = parse_www_authenticate(&value);
//! assert!(c[0].is_bearer());
//! assert_eq!(c[0].error(), Some("insufficient_scope"));
//! assert_eq!(c[0].scope(), Some("mcp:tools:call"));
//!
//! let c = parse_www_authenticate(
//!     r#"Basic realm="x", bearer error="insufficient_scope", scope="a b", resource_metadata="https://rs/.well-known/oauth-protected-resource/mcp""#);
//! assert_eq!(c.len(), 2);
//! assert!(c[1].is_bearer());
//! assert_eq!(c[1].param("scope"), Some("a b"));
//! ```

use crate::scope::ScopeSet;

/// An RFC 6750 §3 Bearer challenge: optional `error` and `error_description`, optional
/// `scope`, then `resource_metadata` (RFC 9728 §5.1), in that order. See the
/// [module example](self).
#[derive(Debug, Clone, Copy)]
pub struct BearerChallenge<'a> {
    resource_metadata: &'a str,
    error: Option<(&'a str, &'a str)>,
    scope: Option<&'a ScopeSet>,
}

impl<'a> BearerChallenge<'a> {
    /// A challenge with only `resource_metadata` (RFC 6750 §3.1: no error code when the
    /// request carried no credentials).
    pub fn new(resource_metadata: &'a str) -> Self {
        Self {
            resource_metadata,
            error: None,
            scope: None,
        }
    }

    /// Adds `error` and `error_description`.
    pub fn error(mut self, code: &'a str, description: &'a str) -> Self {
        self.error = Some((code, description));
        self
    }

    /// Adds `scope` (space-separated).
    pub fn scope(mut self, scope: &'a ScopeSet) -> Self {
        self.scope = Some(scope);
        self
    }

    /// The header value, e.g. `Bearer error="invalid_token", error_description="token
    /// expired", resource_metadata="https://rs/.well-known/oauth-protected-resource"`.
    pub fn build(&self) -> String {
        let mut s = String::with_capacity(128);
        s.push_str("Bearer ");
        if let Some((code, desc)) = self.error {
            s.push_str("error=");
            quote(&mut s, code);
            s.push_str(", error_description=");
            quote(&mut s, desc);
            s.push_str(", ");
        }
        if let Some(scope) = self.scope {
            s.push_str("scope=");
            quote(&mut s, &scope.to_string());
            s.push_str(", ");
        }
        s.push_str("resource_metadata=");
        quote(&mut s, self.resource_metadata);
        s
    }
}

/// Quotes a value for an auth-param (RFC 9110 §5.6.4 quoted-string): `"` and `\` escaped,
/// anything outside visible ASCII and space replaced by `?`. Used by every challenge builder
/// (also the resource server's `DPoP` challenges).
pub fn quote(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

/// One parsed challenge: a scheme and its auth-params (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent.
    pub scheme: String,
    /// Parameters, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether the scheme is `Bearer` (case-insensitive).
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
    /// A parameter by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `error`
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }
    /// `resource_metadata` (RFC 9728 §5.1)
    pub fn resource_metadata(&self) -> Option<&str> {
        self.param("resource_metadata")
    }
    /// `scope`
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }
}

/// The first Bearer challenge in a response's `WWW-Authenticate` header values, in order
/// (with `http`: `headers.get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok())`).
pub fn first_bearer<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    values
        .into_iter()
        .flat_map(parse_www_authenticate)
        .find(Challenge::is_bearer)
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses one `WWW-Authenticate` header value into its challenges. Malformed input yields
/// whatever could be parsed before the fault (never panics).
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let s: Vec<char> = value.chars().collect();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && (s[*i] == ' ' || s[*i] == '\t') {
            *i += 1;
        }
    };
    let read_token = |i: &mut usize| -> String {
        let start = *i;
        while *i < s.len() && is_tchar(s[*i]) {
            *i += 1;
        }
        s[start..*i].iter().collect()
    };
    loop {
        // skip separators
        while i < s.len() && (s[i] == ',' || s[i] == ' ' || s[i] == '\t') {
            i += 1;
        }
        if i >= s.len() {
            break;
        }
        let tok = read_token(&mut i);
        if tok.is_empty() {
            break; // unexpected character
        }
        let mut j = i;
        skip_ws(&mut j);
        if j < s.len() && s[j] == '=' && !out.is_empty() {
            // an auth-param of the current challenge
            i = j + 1;
            skip_ws(&mut i);
            let val = if i < s.len() && s[i] == '"' {
                i += 1;
                let mut v = String::new();
                while i < s.len() && s[i] != '"' {
                    if s[i] == '\\' && i + 1 < s.len() {
                        i += 1;
                    }
                    v.push(s[i]);
                    i += 1;
                }
                i += 1; // closing quote
                v
            } else {
                read_token(&mut i)
            };
            if let Some(c) = out.last_mut() {
                c.params.push((tok.to_ascii_lowercase(), val));
            }
            continue;
        }
        // a new challenge; a token68 may follow
        out.push(Challenge {
            scheme: tok,
            params: Vec::new(),
        });
        skip_ws(&mut i);
        let mut k = i;
        while k < s.len() && (is_tchar(s[k]) || s[k] == '/') {
            k += 1;
        }
        let mut m = k;
        while m < s.len() && s[m] == '=' {
            m += 1;
        }
        let after = {
            let mut n = m;
            skip_ws(&mut n);
            n
        };
        if k > i && (after >= s.len() || s[after] == ',') {
            i = m; // token68 (ignored)
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_credentials_challenge_is_resource_metadata_only() {
        assert_eq!(
            BearerChallenge::new("http://h/.well-known/oauth-protected-resource/mcp").build(),
            r#"Bearer resource_metadata="http://h/.well-known/oauth-protected-resource/mcp""#
        );
    }

    #[test]
    fn error_scope_and_metadata_in_rfc_order_with_quoting() {
        let scope = ScopeSet::parse("mcp:tools:call mcp:tools:read");
        assert_eq!(
            BearerChallenge::new("http://h/prm")
                .error("invalid_token", "token \"expired\" \\ é")
                .scope(&scope)
                .build(),
            r#"Bearer error="invalid_token", error_description="token \"expired\" \\ ?", scope="mcp:tools:call mcp:tools:read", resource_metadata="http://h/prm""#
        );
    }

    #[test]
    fn built_challenge_parses_back() {
        let scope = ScopeSet::parse("a b");
        let v = BearerChallenge::new("http://h/prm")
            .error("insufficient_scope", "needs \"a\"")
            .scope(&scope)
            .build();
        let c = first_bearer([v.as_str()]).unwrap();
        assert_eq!(c.error(), Some("insufficient_scope"));
        assert_eq!(c.param("error_description"), Some("needs \"a\""));
        assert_eq!(c.scope(), Some("a b"));
        assert_eq!(c.resource_metadata(), Some("http://h/prm"));
    }

    /// CL-01: multiple challenges, case-insensitive scheme, token and quoted values.
    #[test]
    fn parses_multiple_challenges_and_value_forms_cl01() {
        let c = parse_www_authenticate(
            r#"DPoP algs="ES256", BEARER error=invalid_token, error_description="bad \"sig\"", resource_metadata="http://h/x""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("algs"), Some("ES256"));
        assert!(c[1].is_bearer());
        assert_eq!(c[1].error(), Some("invalid_token"));
        assert_eq!(c[1].param("ERROR_DESCRIPTION"), Some("bad \"sig\""));
        assert_eq!(c[1].resource_metadata(), Some("http://h/x"));
        assert_eq!(parse_www_authenticate("Bearer").len(), 1);
        assert!(parse_www_authenticate("").is_empty());
        // hostile input does not panic
        for s in [
            "=",
            "Bearer =",
            "Bearer a=\"unterminated",
            ",,,",
            "Bearer a=b=c",
            "\u{0}",
        ] {
            let _ = parse_www_authenticate(s);
        }
    }

    #[test]
    fn first_bearer_searches_every_header_value() {
        let values = ["Basic realm=\"r\"", "Bearer scope=\"a\""];
        assert_eq!(first_bearer(values).unwrap().scope(), Some("a"));
        assert!(first_bearer(["Basic realm=\"r\""]).is_none());
    }
}
