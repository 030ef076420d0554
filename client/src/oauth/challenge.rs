//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, RFC 6750 §3): several challenges per
//! header and across headers, case-insensitive scheme and parameter names, quoted-string
//! and token values (CL-01).
//!
//! ```
//! use http_oauth2_client::oauth::challenge::parse_www_authenticate;
//! let c = parse_www_authenticate(
//!     r#"Basic realm="x", bearer error="insufficient_scope", scope="a b", resource_metadata="https://rs/.well-known/oauth-protected-resource/mcp""#);
//! assert_eq!(c.len(), 2);
//! assert!(c[1].is_bearer());
//! assert_eq!(c[1].param("scope"), Some("a b"));
//! ```

/// One challenge: a scheme and its auth-params (names lower-cased).
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

/// The first Bearer challenge in all `WWW-Authenticate` headers of a response.
pub fn bearer_challenge(headers: &http::HeaderMap) -> Option<Challenge> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
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
    fn bearer_challenge_searches_every_header() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::WWW_AUTHENTICATE,
            "Basic realm=\"r\"".parse().unwrap(),
        );
        h.append(
            http::header::WWW_AUTHENTICATE,
            "Bearer scope=\"a\"".parse().unwrap(),
        );
        assert_eq!(bearer_challenge(&h).unwrap().scope(), Some("a"));
    }
}
