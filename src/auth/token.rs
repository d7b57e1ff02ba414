//! Opaque credential values: 256 random bits, base64url without padding; stored as SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A fresh random credential value (32 bytes from the OS generator, 43 characters).
pub fn random_token() -> String {
    let mut buf = [0u8; 32];
    rand::fill(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The SHA-256 of a credential value, which is all the database keeps. A fast hash is right
/// here: the value has 256 bits of entropy, so it cannot be guessed from its hash.
pub fn hash_token(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(hash_token(&a).len(), 32);
        assert_eq!(hash_token(&a), hash_token(&a));
    }
}
