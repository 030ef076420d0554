//! The one end-to-end test binary. Groups follow the design document.

mod consent_browser;
mod https;
mod oauth2_flow;
mod security;
