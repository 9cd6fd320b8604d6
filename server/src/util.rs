//! Small helpers shared by the core: randomness, hashing and time spans.

use chrono::{DateTime, TimeDelta, Utc};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A 256-bit random token, base64url without padding (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Hex SHA-256: how tokens are stored, so a database leak reveals no usable token. (`hex::encode`
/// collects the digits a character at a time: 840 more of an `/api/me`'s 90,000 instructions.)
pub fn sha256_hex(value: &str) -> String {
    base16ct::lower::encode_string(&Sha256::digest(value.as_bytes()))
}

/// A configured span as a chrono delta; spans beyond chrono's range count as forever.
pub fn to_delta(duration: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// `span` after `at`, or the end of time if that is past what can be represented.
pub fn later(at: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    at.checked_add_signed(to_delta(span)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `span` before `at`, or the beginning of time.
pub fn earlier(at: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    at.checked_sub_signed(to_delta(span)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_the_lowercase_hex_digest() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex("").len(), 64);
    }

    #[test]
    fn tokens_are_long_and_different() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn spans_beyond_the_calendar_saturate_instead_of_panicking() {
        let now = Utc::now();
        let forever = std::time::Duration::from_secs(u64::MAX);
        assert_eq!(later(now, forever), DateTime::<Utc>::MAX_UTC);
        assert_eq!(earlier(now, forever), DateTime::<Utc>::MIN_UTC);
    }
}
