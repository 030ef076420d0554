//! reqwest-middleware pieces: [`BearerAuth`] attaches tokens, refreshes on 401 and steps up
//! on 403. Reusable on any `reqwest` client, MCP or not.

mod bearer;

pub use bearer::BearerAuth;
