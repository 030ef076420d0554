//! The one end-to-end test binary. Groups follow the design document.

mod consent_browser;
mod https;
mod mcp_integration;
mod oauth2_edge_cases;
mod oauth2_flow;
mod security;
