//! XChaCha20-Poly1305 with keys derived (HKDF-SHA256) from `LATCHKEY_SECRET_KEY` and, after a
//! rotation, from `LATCHKEY_PREVIOUS_SECRET_KEYS`.
//!
//! Each ciphertext is stored beside the id of the key that sealed it, so the secret key can be
//! rotated: rows sealed under a previous key still open, and are sealed again under the current
//! key when used (or by the sweeper). The associated data binds a ciphertext to its row (the
//! identity id) and its column (access or refresh token), so a sealed token copied to another
//! row or column does not open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::config::SecretKey;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error(
        "no key with id `{0}` is configured (was LATCHKEY_SECRET_KEY changed without keeping the old one in LATCHKEY_PREVIOUS_SECRET_KEYS?)"
    )]
    UnknownKey(String),
    #[error("the sealed value is damaged or belongs elsewhere")]
    Corrupt,
}

/// Which column a sealed token lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenColumn {
    Access,
    Refresh,
    /// A session's sign-in ID token (the row is the session's id).
    IdToken,
    /// The private part of a key that signs latchkey's access tokens (the row is its `kid`).
    SigningKey,
}

/// A sealed value as stored: the key id and base64 of nonce ‖ ciphertext ‖ tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: String,
}

/// How the associated data is formed; each format has its own derived keys (and so key ids),
/// so a value is only ever opened the way it was sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// Until November 2026: the row only. Still opened; never sealed any more.
    RowOnly,
    /// The row and the column.
    RowAndColumn,
}

impl Format {
    fn hkdf_info(self) -> &'static [u8] {
        match self {
            Format::RowOnly => b"latchkey provider tokens v1",
            Format::RowAndColumn => b"latchkey provider tokens v2",
        }
    }

    fn associated_data(self, row: &str, column: TokenColumn) -> Vec<u8> {
        let mut data = row.as_bytes().to_vec();
        if self == Format::RowAndColumn {
            // The unit separator cannot occur in an id, so (row, column) pairs never collide.
            data.push(0x1f);
            data.extend_from_slice(match column {
                TokenColumn::Access => b"access_token",
                TokenColumn::Refresh => b"refresh_token",
                TokenColumn::IdToken => b"id_token",
                TokenColumn::SigningKey => b"signing_key",
            });
        }
        data
    }
}

struct DerivedKey {
    id: String,
    format: Format,
    cipher: XChaCha20Poly1305,
}

pub struct TokenCipher {
    /// The current key first (the only one that seals), then every key that can still open.
    keys: Vec<DerivedKey>,
}

impl TokenCipher {
    /// `current` seals; `previous` keys (after a rotation) only open.
    pub fn new(current: &SecretKey, previous: &[SecretKey]) -> Self {
        let keys = std::iter::once(current)
            .chain(previous)
            .flat_map(|secret| [derive(secret, Format::RowAndColumn), derive(secret, Format::RowOnly)])
            .collect();
        TokenCipher { keys }
    }

    pub fn current_key_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Every key id that opens: the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.id.as_str())
    }

    /// Whether a value sealed under `key_id` is sealed the way it would be today (if not, it
    /// opens, and should be sealed again).
    pub fn is_current(&self, key_id: &str) -> bool {
        self.current_key_id() == key_id
    }

    pub fn seal(&self, plaintext: &str, row: &str, column: TokenColumn) -> Sealed {
        let key = &self.keys[0];
        let nonce_bytes = crate::util::random_bytes::<NONCE_LEN>();
        let nonce = XNonce::from(nonce_bytes);
        let aad = key.format.associated_data(row, column);
        // Encryption with a valid key and nonce cannot fail for in-memory inputs.
        let ciphertext =
            key.cipher.encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: &aad }).unwrap_or_default();
        let mut stored = nonce_bytes.to_vec();
        stored.extend_from_slice(&ciphertext);
        Sealed { key_id: key.id.clone(), ciphertext: STANDARD_NO_PAD.encode(stored) }
    }

    pub fn open(&self, sealed: &Sealed, row: &str, column: TokenColumn) -> Result<String, CipherError> {
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
        let aad = key.format.associated_data(row, column);
        let plaintext = key
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| CipherError::Corrupt)?;
        String::from_utf8(plaintext).map_err(|_| CipherError::Corrupt)
    }
}

fn derive(secret: &SecretKey, format: Format) -> DerivedKey {
    let mut key = [0u8; 32];
    // HKDF-Expand to 32 bytes cannot fail (the limit is 255 × 32).
    let _ = hkdf::Hkdf::<Sha256>::new(None, secret.as_bytes()).expand(format.hkdf_info(), &mut key);
    // The id names the key without revealing it.
    let id = hex::encode(&Sha256::digest(key)[..8]);
    DerivedKey { id, format, cipher: XChaCha20Poly1305::new(&key.into()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenColumn::{Access, Refresh};

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_hex(&hex::encode([byte; 32])).expect("valid")
    }

    #[test]
    fn a_sealed_token_opens_on_its_own_row_only() {
        let cipher = TokenCipher::new(&key(1), &[]);
        let sealed = cipher.seal("ya29.secret-access-token", "identity-1", Access);

        assert!(!sealed.ciphertext.contains("secret-access-token"));
        assert_eq!(cipher.open(&sealed, "identity-1", Access).as_deref(), Ok("ya29.secret-access-token"));
        assert_eq!(cipher.open(&sealed, "identity-2", Access), Err(CipherError::Corrupt), "bound to its row");
    }

    #[test]
    fn a_sealed_token_opens_in_its_own_column_only() {
        let cipher = TokenCipher::new(&key(1), &[]);
        let refresh = cipher.seal("refresh-token", "identity-1", Refresh);

        assert_eq!(cipher.open(&refresh, "identity-1", Access), Err(CipherError::Corrupt), "bound to its column");
        assert_eq!(cipher.open(&refresh, "identity-1", Refresh).as_deref(), Ok("refresh-token"));
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let cipher = TokenCipher::new(&key(1), &[]);
        assert_ne!(cipher.seal("t", "a", Access).ciphertext, cipher.seal("t", "a", Access).ciphertext);
    }

    #[test]
    fn after_rotation_old_tokens_open_and_new_ones_use_the_new_key() {
        let old = TokenCipher::new(&key(1), &[]);
        let sealed_before = old.seal("old token", "id", Access);
        let rotated = TokenCipher::new(&key(2), &[key(1)]);

        assert_eq!(rotated.open(&sealed_before, "id", Access).as_deref(), Ok("old token"));
        assert!(!rotated.is_current(&sealed_before.key_id), "to be sealed again");
        let sealed_after = rotated.seal("new", "id", Access);
        assert_ne!(sealed_after.key_id, sealed_before.key_id);
        assert!(rotated.is_current(&sealed_after.key_id));
        let forgotten = TokenCipher::new(&key(3), &[]).open(&sealed_before, "id", Access);
        assert!(matches!(forgotten, Err(CipherError::UnknownKey(_))));
    }

    #[test]
    fn tokens_sealed_before_the_column_was_bound_still_open_and_count_as_old() {
        // What the cipher of November 2026 stored: the v1 key, the row as associated data.
        let v1 = derive(&key(1), Format::RowOnly);
        let nonce = [7u8; NONCE_LEN];
        let ciphertext =
            v1.cipher.encrypt(&XNonce::from(nonce), Payload { msg: b"legacy", aad: b"id" }).expect("encrypts");
        let legacy = Sealed {
            key_id: v1.id.clone(),
            ciphertext: STANDARD_NO_PAD.encode([nonce.as_slice(), &ciphertext].concat()),
        };

        let cipher = TokenCipher::new(&key(1), &[]);
        assert_eq!(cipher.open(&legacy, "id", Refresh).as_deref(), Ok("legacy"));
        assert!(!cipher.is_current(&legacy.key_id), "to be sealed again, with its column bound");
    }

    #[test]
    fn a_tampered_ciphertext_is_refused() {
        let cipher = TokenCipher::new(&key(1), &[]);
        let mut sealed = cipher.seal("token", "id", Access);
        sealed.ciphertext.replace_range(40..41, if &sealed.ciphertext[40..41] == "A" { "B" } else { "A" });
        assert_eq!(cipher.open(&sealed, "id", Access), Err(CipherError::Corrupt));
    }
}
