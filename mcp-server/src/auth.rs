//! The resource-server auth layer, now the `oauth-resource` crate (issue 13 part A),
//! re-exported so `crate::auth::...` paths keep working.

pub use oauth_resource::*;
