//! The MCP server over real sockets against the mock authorization server of
//! `tests::mock_as` (real signatures, forged tokens on demand). Test names cite checklist IDs.

mod auth;
mod cli;
mod dpop;
mod elicit_cli;
mod features;
mod front;
mod http_sse;
mod jwks;
mod legacy_limits;
mod logs;
mod mrtr;
mod mrtr_client;
mod negotiation;
mod param_headers;
mod resumable;
mod scope_rules;
mod session;
mod stateless;
mod stream_expiry;
mod subscriptions;
mod transport;
mod unprotected;
