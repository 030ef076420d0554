//! reqwest-middleware pieces: [`BearerAuth`] attaches tokens, refreshes on 401 and steps up
//! on 403; [`AuthOnDemand`] does the same once a server has asked for authorization, and
//! runs discovery, registration and login on that first 401 (ADR 0006). Reusable on any
//! `reqwest` client, MCP or not.

pub(crate) mod bearer;
mod on_demand;

pub use bearer::BearerAuth;
pub use on_demand::AuthOnDemand;
