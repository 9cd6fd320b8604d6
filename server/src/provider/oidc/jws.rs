//! The JWS layer under the ID-token checks: the parts of a compact token, the allow-list of
//! signing algorithms, and the signature check for tokens openidconnect cannot parse itself.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{
    ClaimsVerificationError, JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyUse, JwsSigningAlgorithm,
    SignatureVerificationError,
};

use super::Metadata;

/// Asymmetric algorithms only: never `none`, never HMAC (which would key on a public value).
pub(super) const ACCEPTABLE_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The provider's advertised algorithms, intersected with the asymmetric allow-list.
pub(super) fn allowed_algorithms(metadata: &Metadata) -> Vec<CoreJwsSigningAlgorithm> {
    let allowed: Vec<_> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| ACCEPTABLE_ALGORITHMS.contains(alg))
        .cloned()
        .collect();
    if allowed.is_empty() { vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256] } else { allowed }
}

/// The three parts of a compact JWS.
pub(super) fn jws_parts(token: &str) -> Result<[&str; 3], ClaimsVerificationError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok([header, payload, signature]),
        _ => Err(ClaimsVerificationError::Other("it is not a signed JWT".into())),
    }
}

pub(super) fn decode_json(part: &str) -> Result<serde_json::Value, ClaimsVerificationError> {
    let bytes = B64.decode(part).map_err(|_| ClaimsVerificationError::Other("it is not valid base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| ClaimsVerificationError::Other("it is not valid JSON".into()))
}

/// OpenID Connect Core 3.1.3.6 `at_hash`: base64url of the left half of the access token's
/// hash, with the hash of the ID token's signing algorithm (read from the verified token's
/// header). `None` for an algorithm without a defined hash.
pub(super) fn access_token_hash(id_token: &str, access_token: &str) -> Option<String> {
    use sha2::Digest as _;
    let [header, _, _] = jws_parts(id_token).ok()?;
    let alg = decode_json(header).ok()?.get("alg")?.as_str()?.to_string();
    let digest: Vec<u8> = match alg.as_str() {
        "RS256" | "PS256" | "ES256" => sha2::Sha256::digest(access_token.as_bytes()).to_vec(),
        "RS384" | "PS384" | "ES384" => sha2::Sha384::digest(access_token.as_bytes()).to_vec(),
        // EdDSA with Ed25519 hashes with SHA-512 (OpenID Connect Core errata, RFC 8037).
        "RS512" | "PS512" | "EdDSA" => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => return None,
    };
    Some(B64.encode(&digest[..digest.len() / 2]))
}

/// The `iss` claim, read without any verification (only to pick the verification path).
pub(super) fn unverified_issuer(token: &str) -> Option<String> {
    let [_, payload, _] = jws_parts(token).ok()?;
    decode_json(payload).ok()?.get("iss")?.as_str().map(str::to_string)
}

/// The same token with `iss` replaced; its signature no longer matches, so it may only be
/// read after [`verify_signature`] accepted the original.
pub(super) fn respell_issuer(token: &str, issuer: &str) -> Result<String, ClaimsVerificationError> {
    let [header, payload, signature] = jws_parts(token)?;
    let mut claims = decode_json(payload)?;
    let object =
        claims.as_object_mut().ok_or_else(|| ClaimsVerificationError::Other("its claims are not an object".into()))?;
    object.insert("iss".into(), serde_json::Value::String(issuer.to_string()));
    let payload = B64.encode(serde_json::to_vec(&claims).map_err(|e| ClaimsVerificationError::Other(e.to_string()))?);
    Ok(format!("{header}.{payload}.{signature}"))
}

/// The signature check openidconnect does, for a token it cannot parse: an allow-listed
/// asymmetric algorithm, exactly one published key that fits the header's `kid` and the
/// algorithm, and a valid signature over the token as sent. `jku`, `jwk` and `x5u` headers are
/// ignored: keys come only from the provider's JWKS.
pub(super) fn verify_signature(metadata: &Metadata, token: &str) -> Result<(), ClaimsVerificationError> {
    use ClaimsVerificationError::SignatureVerification as Invalid;
    let [header_part, payload_part, signature_part] = jws_parts(token)?;
    let header = decode_json(header_part)?;
    let alg_name = header.get("alg").and_then(|alg| alg.as_str()).unwrap_or_default();
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(serde_json::Value::String(alg_name.to_string()))
        .map_err(|_| Invalid(SignatureVerificationError::DisallowedAlg(format!("unknown algorithm `{alg_name}`"))))?;
    if alg.uses_shared_secret() || !allowed_algorithms(metadata).contains(&alg) {
        return Err(Invalid(SignatureVerificationError::DisallowedAlg(format!(
            "algorithm `{alg_name}` is not allowed"
        ))));
    }
    if header.get("crit").is_some() {
        return Err(ClaimsVerificationError::Unsupported("critical JWT header fields are unsupported".into()));
    }
    let kid = header.get("kid").and_then(|kid| kid.as_str());
    let keys: Vec<&CoreJsonWebKey> = metadata
        .jwks()
        .keys()
        .iter()
        .filter(|key| {
            kid.is_none_or(|kid| key.key_id().is_some_and(|id| id.as_str() == kid))
                && key.key_use().is_none_or(|key_use| key_use.allows_signature())
                && alg.key_type().as_ref() == Some(key.key_type())
                && match key.signing_alg() {
                    JsonWebKeyAlgorithm::Unspecified => true,
                    JsonWebKeyAlgorithm::Algorithm(key_alg) => *key_alg == alg,
                    JsonWebKeyAlgorithm::Unsupported => false,
                }
        })
        .collect();
    let key = match keys.as_slice() {
        [key] => *key,
        [] => return Err(Invalid(SignatureVerificationError::NoMatchingKey)),
        _ => return Err(Invalid(SignatureVerificationError::AmbiguousKeyId("several keys fit the token".into()))),
    };
    let signature = B64
        .decode(signature_part)
        .map_err(|_| Invalid(SignatureVerificationError::CryptoError("the signature is not valid base64url".into())))?;
    // What was signed: the token up to its signature.
    let signing_input = &token.as_bytes()[..header_part.len() + 1 + payload_part.len()];
    if alg == CoreJwsSigningAlgorithm::EcdsaP256Sha256
        && let Some(point) = p256_public_point(key)
    {
        use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
        return UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(signing_input, &signature).map_err(
            |_| Invalid(SignatureVerificationError::CryptoError("the ES256 signature does not verify".into())),
        );
    }
    key.verify_signature(&alg, signing_input, &signature).map_err(Invalid)
}

/// A P-256 key's point, uncompressed (`04 ‖ x ‖ y`), for ring: its ES256 check takes a
/// tenth of the instructions of openidconnect's (pure Rust `p256`), and every sign-in at a
/// provider signing with ES256 makes one. `None` for any other key.
fn p256_public_point(key: &CoreJsonWebKey) -> Option<Vec<u8>> {
    let jwk = serde_json::to_value(key).ok()?;
    if jwk.get("kty")?.as_str()? != "EC" || jwk.get("crv")?.as_str()? != "P-256" {
        return None;
    }
    let coordinate = |name: &str| B64.decode(jwk.get(name)?.as_str()?).ok().filter(|bytes| bytes.len() == 32);
    let (x, y) = (coordinate("x")?, coordinate("y")?);
    Some([&[0x04][..], &x, &y].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advertising(algorithms: &[&str]) -> Metadata {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://sso.example.test",
            "authorization_endpoint": "https://sso.example.test/authorize",
            "jwks_uri": "https://sso.example.test/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algorithms,
        }))
        .expect("a discovery document")
    }

    /// A P-256 key pair (ring) and the metadata publishing its public half as `kid` "k1".
    fn es256_provider() -> (ring::signature::EcdsaKeyPair, Metadata) {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let random = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).expect("a key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random).expect("a key");
        let point = pair.public_key().as_ref().to_vec();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..]),
        }]});
        let metadata = advertising(&["ES256"]).set_jwks(serde_json::from_value(jwks).expect("a key set"));
        (pair, metadata)
    }

    fn es256_token(pair: &ring::signature::EcdsaKeyPair, claims: &str) -> String {
        let signing_input = format!("{}.{}", B64.encode(r#"{"alg":"ES256","kid":"k1"}"#), B64.encode(claims));
        let signature = pair.sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes()).expect("signed");
        format!("{signing_input}.{}", B64.encode(signature.as_ref()))
    }

    #[test]
    fn an_es256_token_verifies_only_as_signed_and_only_with_the_published_key() {
        let (pair, metadata) = es256_provider();
        let token = es256_token(&pair, r#"{"sub":"ada"}"#);
        assert!(verify_signature(&metadata, &token).is_ok(), "signed with the published key");

        let [header, _, signature] = jws_parts(&token).expect("three parts");
        let altered = format!("{header}.{}.{signature}", B64.encode(r#"{"sub":"eve"}"#));
        assert!(matches!(
            verify_signature(&metadata, &altered),
            Err(ClaimsVerificationError::SignatureVerification(_))
        ));

        let (other, _) = es256_provider();
        let forged = es256_token(&other, r#"{"sub":"ada"}"#);
        assert!(matches!(verify_signature(&metadata, &forged), Err(ClaimsVerificationError::SignatureVerification(_))));
    }

    #[test]
    fn only_advertised_asymmetric_algorithms_are_accepted() {
        assert_eq!(allowed_algorithms(&advertising(&["ES256"])), [CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        assert_eq!(
            allowed_algorithms(&advertising(&["HS256", "none", "PS256"])),
            [CoreJwsSigningAlgorithm::RsaSsaPssSha256],
            "never HMAC, never none"
        );
    }

    #[test]
    fn a_provider_that_advertises_none_of_them_gets_rs256() {
        assert_eq!(allowed_algorithms(&advertising(&["HS256"])), [CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn part(json: &str) -> String {
            B64.encode(json.as_bytes())
        }

        /// Compact tokens whose parts are arbitrary text, arbitrary base64, or base64 of
        /// JSON that is almost right.
        fn token() -> impl Strategy<Value = String> {
            let json = prop_oneof![
                any::<String>(),
                "\\{\"(alg|kid|iss|crit|typ)\":(\"[A-Za-z0-9:/.]{0,12}\"|[0-9]{1,5}|null|\\[\\]|\\{\\})\\}",
            ];
            prop_oneof![
                any::<String>(),
                (json.clone(), json, "[A-Za-z0-9_-]{0,90}").prop_map(|(h, p, s)| format!(
                    "{}.{}.{s}",
                    part(&h),
                    part(&p)
                )),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn reading_a_token_never_panics_and_never_passes_an_unsigned_one(token in token(), access in any::<String>()) {
                let metadata = advertising(&["RS256", "ES256"]);
                let _ = unverified_issuer(&token);
                let _ = access_token_hash(&token, &access);
                if let Ok(respelled) = respell_issuer(&token, "https://issuer.example") {
                    let issuer = unverified_issuer(&respelled);
                    prop_assert_eq!(issuer.as_deref(), Some("https://issuer.example"));
                }
                // No key is published: no token, however made, may pass.
                prop_assert!(verify_signature(&metadata, &token).is_err());
            }
        }
    }
}
