//! The one end-to-end (integration) test binary of the workspace. Groups follow the design
//! document; `client_stack` and `mcp_*` are the client's and the MCP server's own suites,
//! kept here so the workspace links one test binary.

mod client_stack;
mod consent_browser;
mod https;
mod mcp_cli;
mod mcp_common;
mod mcp_integration;
mod mcp_logs;
mod mcp_server_suite;
mod oauth2_edge_cases;
mod oauth2_flow;
mod security;
