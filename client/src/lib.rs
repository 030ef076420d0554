//! OAuth client library.
