//! Failures: every error maps to one of the documented exit codes, from its type (never from
//! its text).

use http_oauth2_client::ClientError;
use http_oauth2_client::error::report;

/// A failure with its exit code and a hint on what to do.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// Exit code 1: the MCP operation failed.
pub(crate) const EXIT_OPERATION: u8 = 1;
/// Exit code 2: usage or configuration.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code 3: authorization required or denied.
pub(crate) const EXIT_AUTHORIZATION: u8 = 3;
/// Exit code 4: network or discovery.
pub(crate) const EXIT_NETWORK: u8 = 4;

impl Failure {
    pub(crate) fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn operation(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code: EXIT_OPERATION,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// The exit code and hint for an error.
fn classify(e: &ClientError) -> (u8, &'static str) {
    match e {
        ClientError::AuthorizationRequired(_) => (
            EXIT_AUTHORIZATION,
            "run `http-oauth2-client login` (add --headless for an auto-approving server)",
        ),
        ClientError::AuthorizationDenied { .. } => (
            EXIT_AUTHORIZATION,
            "the authorization was refused; check the requested --scope and approve the consent page",
        ),
        ClientError::TokenEndpoint { .. } => (
            EXIT_AUTHORIZATION,
            "the token endpoint refused the request; check --client-id/--client-secret, or log in again",
        ),
        ClientError::InsufficientScope { .. } => (
            EXIT_AUTHORIZATION,
            "request the missing scopes with --scope and log in again",
        ),
        ClientError::Registration { .. } => (
            EXIT_AUTHORIZATION,
            "pass a pre-registered --client-id (the demo server knows `mcp-cli`)",
        ),
        ClientError::AuthorizationResponse(_) => (
            EXIT_AUTHORIZATION,
            "the redirect did not verify; start the login again",
        ),
        ClientError::Config(http_oauth2_client::ConfigError::LocalTarget(_)) => (
            EXIT_USAGE,
            "a remote server named a loopback or private address; pass --insecure-local-targets only if you trust it (development, intranet)",
        ),
        ClientError::Config(_) => (
            EXIT_USAGE,
            "fix the URL or option (https is required except for loopback; --insecure-http for development)",
        ),
        ClientError::Store { .. } => (
            EXIT_USAGE,
            "check --token-store and its key file (mode 0600), or use --token-store memory",
        ),
        ClientError::Discovery { .. } => (
            EXIT_NETWORK,
            "check the server URL; a server that asks for authorization must publish OAuth protected resource metadata",
        ),
        ClientError::NotReplayed { .. } => (
            EXIT_OPERATION,
            "authorization is in place now; run the command again",
        ),
        ClientError::HttpStatus { .. } => (
            EXIT_NETWORK,
            "the server answered with an HTTP error; check the URL, and the server's logs for a 5xx",
        ),
        ClientError::Transport { .. }
        | ClientError::Timeout { .. }
        | ClientError::RetryLater { .. } => (
            EXIT_NETWORK,
            "check that the server is running and reachable, then retry",
        ),
        ClientError::Mcp { .. }
        | ClientError::Protocol(_)
        | ClientError::ResponseTooLarge { .. } => (
            EXIT_OPERATION,
            "check the name and --args against `tools list` / `prompts list`",
        ),
        _ => (EXIT_OPERATION, "see the message above"),
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let (code, hint) = classify(&e);
        Self {
            code,
            message: report(&e),
            hint: hint.to_owned(),
        }
    }
}

impl From<crate::demo::DemoError> for Failure {
    fn from(e: crate::demo::DemoError) -> Self {
        match e {
            crate::demo::DemoError::Client(c) => c.into(),
            crate::demo::DemoError::Start(s) => Self::operation(
                report(&s),
                "the in-process servers could not start; see the message",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_error_types() {
        let io = || std::io::Error::other("boom");
        let cases = [
            (
                ClientError::AuthorizationRequired("x".into()),
                EXIT_AUTHORIZATION,
            ),
            (ClientError::store("x"), EXIT_USAGE),
            (ClientError::discovery("x"), EXIT_NETWORK),
            (ClientError::transport("x", io()), EXIT_NETWORK),
            (ClientError::timeout("x"), EXIT_NETWORK),
            (
                ClientError::HttpStatus {
                    from: "the MCP server".into(),
                    status: http::StatusCode::SERVICE_UNAVAILABLE,
                    error: None,
                    description: None,
                },
                EXIT_NETWORK,
            ),
            (ClientError::Protocol("x".into()), EXIT_OPERATION),
        ];
        for (e, code) in cases {
            assert_eq!(Failure::from(e).code, code);
        }
    }

    #[test]
    fn the_message_carries_the_error_chain() {
        let e = ClientError::transport(
            "cannot connect",
            std::io::Error::other("connection refused"),
        );
        assert_eq!(
            Failure::from(e).message,
            "transport error: cannot connect: connection refused"
        );
    }
}
