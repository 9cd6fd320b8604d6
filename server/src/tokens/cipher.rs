//! XChaCha20-Poly1305 with a key derived (HKDF-SHA256) from `LATCHKEY_SECRET_KEY`.
//!
//! Each ciphertext is stored beside the id of the key that sealed it, so the secret key can be
//! rotated: old rows stay readable with a previous key while new ones use the current key.
//! The associated data binds a ciphertext to its row (e.g. the identity id), so a sealed token
//! copied to another row does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::config::SecretKey;

const HKDF_INFO: &[u8] = b"latchkey provider tokens v1";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("no key with id `{0}` is configured (was LATCHKEY_SECRET_KEY changed?)")]
    UnknownKey(String),
    #[error("the sealed value is damaged or belongs elsewhere")]
    Corrupt,
}

/// A sealed value as stored: the key id and base64 of nonce ‖ ciphertext ‖ tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: String,
}

struct DerivedKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

pub struct TokenCipher {
    /// The current key first, then older ones that can still open.
    keys: Vec<DerivedKey>,
}

impl TokenCipher {
    /// `current` seals; `previous` keys (after a rotation) only open.
    pub fn new(current: &SecretKey, previous: &[SecretKey]) -> Self {
        let keys = std::iter::once(current).chain(previous).map(derive).collect();
        TokenCipher { keys }
    }

    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn seal(&self, plaintext: &str, associated_data: &str) -> Sealed {
        let key = &self.keys[0];
        let nonce_bytes = crate::util::random_bytes::<NONCE_LEN>();
        let nonce = XNonce::from(nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for in-memory inputs.
        let ciphertext = key
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: associated_data.as_bytes() })
            .unwrap_or_default();
        let mut stored = nonce_bytes.to_vec();
        stored.extend_from_slice(&ciphertext);
        Sealed { key_id: key.id.clone(), ciphertext: STANDARD_NO_PAD.encode(stored) }
    }

    pub fn open(&self, sealed: &Sealed, associated_data: &str) -> Result<String, CipherError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| CipherError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = STANDARD_NO_PAD.decode(&sealed.ciphertext).map_err(|_| CipherError::Corrupt)?;
        if bytes.len() < NONCE_LEN {
            return Err(CipherError::Corrupt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Corrupt)?;
        let plaintext = key
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: associated_data.as_bytes() })
            .map_err(|_| CipherError::Corrupt)?;
        String::from_utf8(plaintext).map_err(|_| CipherError::Corrupt)
    }
}

fn derive(secret: &SecretKey) -> DerivedKey {
    let mut key = [0u8; 32];
    // HKDF-Expand to 32 bytes cannot fail (the limit is 255 × 32).
    let _ = hkdf::Hkdf::<Sha256>::new(None, secret.as_bytes()).expand(HKDF_INFO, &mut key);
    // The id names the key without revealing it.
    let id = hex::encode(&Sha256::digest(key)[..8]);
    DerivedKey { id, cipher: XChaCha20Poly1305::new(&key.into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_hex(&hex::encode([byte; 32])).expect("valid")
    }

    #[test]
    fn a_sealed_token_opens_with_its_associated_data_only() {
        let cipher = TokenCipher::new(&key(1), &[]);
        let sealed = cipher.seal("ya29.secret-access-token", "identity-1");

        assert!(!sealed.ciphertext.contains("secret-access-token"));
        assert_eq!(cipher.open(&sealed, "identity-1").as_deref(), Ok("ya29.secret-access-token"));
        assert_eq!(cipher.open(&sealed, "identity-2"), Err(CipherError::Corrupt), "bound to its row");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let cipher = TokenCipher::new(&key(1), &[]);
        assert_ne!(cipher.seal("t", "a").ciphertext, cipher.seal("t", "a").ciphertext);
    }

    #[test]
    fn after_rotation_old_tokens_open_and_new_ones_use_the_new_key() {
        let old = TokenCipher::new(&key(1), &[]);
        let sealed_before = old.seal("old token", "id");
        let rotated = TokenCipher::new(&key(2), &[key(1)]);

        assert_eq!(rotated.open(&sealed_before, "id").as_deref(), Ok("old token"));
        assert_ne!(rotated.seal("new", "id").key_id, sealed_before.key_id);
        assert!(matches!(TokenCipher::new(&key(3), &[]).open(&sealed_before, "id"), Err(CipherError::UnknownKey(_))));
    }

    #[test]
    fn a_tampered_ciphertext_is_refused() {
        let cipher = TokenCipher::new(&key(1), &[]);
        let mut sealed = cipher.seal("token", "id");
        sealed.ciphertext.replace_range(40..41, if &sealed.ciphertext[40..41] == "A" { "B" } else { "A" });
        assert_eq!(cipher.open(&sealed, "id"), Err(CipherError::Corrupt));
    }
}
