//! Scope sets (RFC 6749 §3.3) and the project's scope hierarchy: `mcp` implies every
//! `mcp:*` scope.
//!
//! ```
//! use shared::scope::ScopeSet;
//! let granted = ScopeSet::parse("mcp");
//! assert!(granted.satisfies("mcp:tools:call"));
//! assert!(!ScopeSet::parse("mcp:tools:read").satisfies("mcp:tools:call"));
//! ```

use std::collections::BTreeSet;

/// The umbrella scope.
pub const MCP: &str = "mcp";
/// `tools/list`
pub const TOOLS_READ: &str = "mcp:tools:read";
/// `tools/call`
pub const TOOLS_CALL: &str = "mcp:tools:call";
/// `resources/*`
pub const RESOURCES_READ: &str = "mcp:resources:read";
/// `prompts/*`
pub const PROMPTS_READ: &str = "mcp:prompts:read";
/// Every scope offered by default, umbrella first.
pub const DEFAULT_SCOPES: &[&str] = &[MCP, TOOLS_READ, TOOLS_CALL, RESOURCES_READ, PROMPTS_READ];

/// An ordered, de-duplicated set of scope tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space-separated scope string; empty tokens are ignored.
    pub fn parse(s: &str) -> Self {
        Self(
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the exact token is present.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether `required` is granted, directly or through a parent (`a` implies `a:b`,
    /// `a:b` implies `a:b:c`).
    pub fn satisfies(&self, required: &str) -> bool {
        if self.0.contains(required) {
            return true;
        }
        let mut prefix = required;
        while let Some(pos) = prefix.rfind(':') {
            prefix = &prefix[..pos];
            if self.0.contains(prefix) {
                return true;
            }
        }
        false
    }

    /// Whether every scope of `other` is satisfied by this set.
    pub fn satisfies_all(&self, other: &ScopeSet) -> bool {
        other.iter().all(|s| self.satisfies(s))
    }

    /// Whether every token is in `self` literally (for "may narrow, never widen" checks,
    /// hierarchy included).
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.iter().all(|s| other.satisfies(s))
    }

    /// The union of two sets.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Iterates the tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Adds a token.
    pub fn insert(&mut self, scope: impl Into<String>) {
        self.0.insert(scope.into());
    }
}

impl<S: Into<String>> FromIterator<S> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = S>>(it: I) -> Self {
        Self(it.into_iter().map(Into::into).collect())
    }
}

impl std::fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_is_honoured() {
        let s = ScopeSet::parse("mcp");
        for scope in DEFAULT_SCOPES {
            assert!(s.satisfies(scope), "{scope}");
        }
        assert!(!s.satisfies("other"));
        assert!(!ScopeSet::parse("mcp:tools").satisfies("mcp:resources:read"));
        assert!(ScopeSet::parse("mcp:tools").satisfies("mcp:tools:call"));
        assert!(!ScopeSet::parse("mcp:tools:read").satisfies("mcp"));
    }

    #[test]
    fn parse_and_display_normalise() {
        let s = ScopeSet::parse("  b a  a ");
        assert_eq!(s.to_string(), "a b");
    }

    #[test]
    fn subset_honours_hierarchy() {
        assert!(ScopeSet::parse("mcp:tools:read").is_subset_of(&ScopeSet::parse("mcp")));
        assert!(!ScopeSet::parse("mcp").is_subset_of(&ScopeSet::parse("mcp:tools:read")));
    }
}
