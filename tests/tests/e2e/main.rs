//! The one end-to-end test binary. Groups follow the design document.

mod https;
mod oauth2_flow;
