//! Tokens: the [`TokenSet`] held for one (issuer, resource, client), the [`TokenStore`]
//! trait with [`InMemoryTokenStore`] and the encrypted [`FileTokenStore`], and the
//! single-flight [`TokenManager`] that refreshes them.
//!
//! ```
//! use http_oauth2_client::token::{Freshness, TokenSet};
//! use shared::secret::AccessToken;
//! let t = TokenSet::new(AccessToken::new("at".into()), None, Some(100), 1_000, None);
//! assert_eq!(t.freshness(1_010), Freshness::Fresh);
//! assert_eq!(t.freshness(1_080), Freshness::Stale);
//! assert_eq!(t.freshness(1_100), Freshness::Expired);
//! ```

mod refresher;
mod set;
mod store;

pub use refresher::{Authorizer, TokenManager};
pub use set::{Freshness, StoredDpopKey, TokenSet, decode_claims_unverified};
pub use store::{
    FileTokenStore, InMemoryTokenStore, RefreshLock, StoreKey, StoredClient, TokenStore,
};
