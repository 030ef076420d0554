//! Random values from the operating system's CSPRNG (`getrandom(2)` on Linux, through the
//! `getrandom` crate), hashing and constant-time comparison.
//!
//! Not aws-lc's `SystemRandom`: that one feeds a userspace DRBG which aws-lc seeds on its
//! first use with its CPU-jitter entropy source, about 30 ms of pure computation, which
//! dominated the MCP server's start-up (issue 16 C). The kernel's CSPRNG is ready as soon as
//! the system has booted and costs one system call per value.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills a buffer with `N` random bytes.
///
/// # Panics
/// Panics if the operating system's random source fails (on Linux: `getrandom(2)` refused,
/// e.g. by a seccomp filter, and `/dev/urandom` unreadable), which leaves no safe way to go on.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the system CSPRNG failed");
    buf
}

/// A base64url (no padding) string of 32 random bytes: 256 bits, 43 characters.
/// Used for authorization codes, refresh tokens, `state`, session ids and `jti`.
pub fn token() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<32>())
}

/// Base64url (no padding) encoding, as used throughout JOSE and PKCE.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// SHA-256 digest.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_chars_and_distinct() {
        let a = token();
        let b = token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn bytes_have_the_asked_length_and_differ() {
        let a = bytes::<32>();
        let b = bytes::<32>();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
        assert_eq!(bytes::<0>(), [0u8; 0]);
        assert_eq!(bytes::<64>().len(), 64);
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
