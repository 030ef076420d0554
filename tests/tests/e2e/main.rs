//! The one end-to-end (integration) test binary of the workspace, one module per checklist
//! group or endpoint (test names carry the checklist IDs of the team's normative checklist,
//! see docs/SECURITY.md):
//!
//! - `oauth`: the authorization server's endpoints (AS-xx), over real HTTP;
//! - `mcp`: the MCP server as resource server, transport and protocol (RS-xx, TR-xx, PR-xx),
//!   against a mock authorization server that signs whatever a test needs;
//! - `client`: the client stack (CL-xx) against a scripted mock server;
//! - `stack`: both real servers driven by the real client: edge cases, attacks, HTTPS, the
//!   consent page in a browser;
//! - `binaries`: what the three binaries do the same way (configuration errors, exit codes);
//! - `properties`: property tests (proptest) of every parser that takes network input.

mod binaries;
mod client;
mod idp;
mod mcp;
mod oauth;
mod properties;
mod stack;
