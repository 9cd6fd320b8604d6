//! Signing keys, the JWKS, and compact JWS encoding (ES256, plus the broken
//! encodings the misbehaviour knob asks for). Public so that the test suite's fake
//! providers sign their tokens the same way.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// A P-256 signing key with its `kid` and public JWK.
pub struct KeyPair {
    signing: SigningKey,
    kid: String,
    jwk: Value,
}

/// How to sign a JWT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Correct ES256 with the published key.
    Es256,
    /// ES256 with a throw-away key that is not published, under the published `kid`.
    Forged,
    /// `{"alg":"none"}` and an empty signature.
    AlgNone,
    /// HS256 keyed with the public key's bytes, under the published `kid`.
    HmacWithPublicKey,
}

impl KeyPair {
    pub fn generate() -> Self {
        let signing = SigningKey::random(&mut rand::rngs::OsRng);
        let (x, y) = coordinates(signing.verifying_key());
        // RFC 7638 JWK thumbprint: members in lexicographic order, no spaces.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = B64.encode(Sha256::digest(thumbprint_input.as_bytes()));
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "kid": kid,
            "use": "sig",
            "alg": "ES256",
        });
        Self { signing, kid, jwk }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `use`, `alg`).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    #[cfg(test)]
    pub(super) fn verifying_key(&self) -> &VerifyingKey {
        self.signing.verifying_key()
    }

    /// Encodes `claims` as a compact JWT.
    pub fn encode(&self, signing: Signing, claims: &Value) -> String {
        self.encode_typed(signing, "JWT", claims)
    }

    /// Encodes `claims` as a compact JWT whose header says `typ` (a logout token's is
    /// `logout+jwt`).
    pub fn encode_typed(&self, signing: Signing, typ: &str, claims: &Value) -> String {
        let header = match signing {
            Signing::Es256 | Signing::Forged => json!({"alg": "ES256", "typ": typ, "kid": self.kid}),
            Signing::AlgNone => json!({"alg": "none"}),
            Signing::HmacWithPublicKey => json!({"alg": "HS256", "typ": typ, "kid": self.kid}),
        };
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let signature = match signing {
            Signing::Es256 => es256(&self.signing, &signing_input),
            Signing::Forged => {
                let forger = SigningKey::random(&mut rand::rngs::OsRng);
                es256(&forger, &signing_input)
            }
            Signing::AlgNone => String::new(),
            Signing::HmacWithPublicKey => {
                let public = self.signing.verifying_key().to_encoded_point(false);
                B64.encode(hmac_sha256(public.as_bytes(), signing_input.as_bytes()))
            }
        };
        format!("{signing_input}.{signature}")
    }
}

impl KeyPair {
    /// The claims of a compact JWT this key signed (ES256), if it did.
    pub fn verified_claims(&self, token: &str) -> Option<Value> {
        use p256::ecdsa::signature::Verifier as _;
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let header: Value = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "ES256" {
            return None;
        }
        let signature = Signature::from_slice(&B64.decode(signature).ok()?).ok()?;
        self.signing.verifying_key().verify(signing_input.as_bytes(), &signature).ok()?;
        serde_json::from_slice(&B64.decode(payload).ok()?).ok()
    }
}

/// base64url(x), base64url(y) of a P-256 public key.
fn coordinates(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    let x = point.x().map(|x| B64.encode(x)).unwrap_or_default();
    let y = point.y().map(|y| B64.encode(y)).unwrap_or_default();
    (x, y)
}

/// The JWS ES256 signature: the 64-byte r||s, base64url.
fn es256(key: &SigningKey, signing_input: &str) -> String {
    let signature: Signature = key.sign(signing_input.as_bytes());
    B64.encode(signature.to_bytes())
}

/// HMAC-SHA256 (RFC 2104).
pub(super) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let inner_pad = block_key.map(|b| b ^ 0x36);
    let outer_pad = block_key.map(|b| b ^ 0x5c);
    let inner = Sha256::new().chain_update(inner_pad).chain_update(message).finalize();
    Sha256::new().chain_update(outer_pad).chain_update(inner).finalize().into()
}

/// OIDC `at_hash` for an ES256 token: base64url of the left half of SHA-256.
pub(super) fn access_token_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    B64.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    fn split(jwt: &str) -> (Value, Value, Vec<u8>, String) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "compact JWS has three parts");
        let header = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        let claims = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        let sig = B64.decode(parts[2]).unwrap();
        (header, claims, sig, format!("{}.{}", parts[0], parts[1]))
    }

    #[test]
    fn es256_signature_verifies_with_the_published_key() {
        let key = KeyPair::generate();
        let claims = json!({"sub": "abc", "aud": "client"});
        let jwt = key.encode(Signing::Es256, &claims);
        let (header, decoded, sig, input) = split(&jwt);
        assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": key.kid()}));
        assert_eq!(decoded, claims);
        assert_eq!(sig.len(), 64);
        let sig = Signature::from_slice(&sig).unwrap();
        key.verifying_key().verify(input.as_bytes(), &sig).unwrap();

        // The JWK describes that same key.
        let jwk = key.jwk();
        let x = B64.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = B64.decode(jwk["y"].as_str().unwrap()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        let from_jwk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        from_jwk.verify(input.as_bytes(), &sig).unwrap();
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
    }

    #[test]
    fn forged_signature_does_not_verify_but_keeps_the_kid() {
        let key = KeyPair::generate();
        let jwt = key.encode(Signing::Forged, &json!({"sub": "x"}));
        let (header, _, sig, input) = split(&jwt);
        assert_eq!(header["kid"], key.kid());
        let sig = Signature::from_slice(&sig).unwrap();
        assert!(key.verifying_key().verify(input.as_bytes(), &sig).is_err());
    }

    #[test]
    fn alg_none_and_hmac_tokens() {
        let key = KeyPair::generate();
        let none = key.encode(Signing::AlgNone, &json!({"sub": "x"}));
        assert!(none.ends_with('.'));
        let (header, _, sig, _) = split(&none);
        assert_eq!(header, json!({"alg": "none"}));
        assert!(sig.is_empty());

        let hs = key.encode(Signing::HmacWithPublicKey, &json!({"sub": "x"}));
        let (header, _, sig, input) = split(&hs);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["kid"], key.kid());
        let public = key.verifying_key().to_encoded_point(false);
        assert_eq!(sig, hmac_sha256(public.as_bytes(), input.as_bytes()));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block size.
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn rotation_changes_the_kid() {
        assert_ne!(KeyPair::generate().kid(), KeyPair::generate().kid());
    }
}
