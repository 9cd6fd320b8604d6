//! The development identity provider.
//!
//! A small but real OpenID Connect provider (authorization code flow with PKCE,
//! ES256-signed ID tokens, a JWKS, a userinfo endpoint) that runs inside
//! latchkey's own server when the binary is built with the `dev-idp` feature
//! (`cargo leptos watch --bin-features dev-idp`, and the tests); release builds
//! leave it out entirely. It lets the app work offline, and lets tests make the
//! provider misbehave on purpose (see [`Misbehaviour`]) to prove the client side
//! rejects what it must.
//!
//! Anyone can sign in as anyone here: there are no passwords. It must never be
//! enabled in production.
//!
//! Mounting: [`DevIdp::router`] returns routes relative to the mount point, and
//! every URL the provider hands out (discovery document, form action, `iss`) is
//! built from the `issuer` given to [`DevIdp::new`]. The two must therefore
//! agree: `issuer` = the absolute URL of the mount point.

mod endpoints;
pub mod jwt;
mod pages;
mod params;
mod store;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::routing::get;

use self::jwt::KeyPair;
use self::store::Store;

/// The built-in development OpenID Connect provider. Cheap to clone.
#[derive(Clone)]
pub struct DevIdp {
    inner: Arc<Inner>,
}

/// The one client (relying party) registered with the development provider.
#[derive(Clone)]
pub struct DevClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// Leaves the secret out, so no log of a client can carry it.
impl std::fmt::Debug for DevClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"..")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl DevClient {
    /// A client with a fresh random secret.
    pub fn new(client_id: String, redirect_uri: String) -> Self {
        DevClient { client_id, client_secret: random_token(), redirect_uri }
    }
}

/// How the provider misbehaves (test knob). Applies to requests made after it
/// is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Misbehaviour {
    /// Behave correctly.
    #[default]
    None,
    /// ID token signed by a key NOT in the JWKS, but with the published `kid`.
    ForgedSignature,
    /// `aud` = some other client only.
    WrongAudience,
    /// `aud` = [client_id, "someone-else"] (untrusted extra audience), `azp` = client_id.
    ExtraAudience,
    /// `aud` = client_id, `azp` = "someone-else".
    WrongAuthorizedParty,
    /// `iss` = another URL.
    WrongIssuer,
    /// `exp` just passed, everything else valid (`iat` = now - 60, `exp` = now - 1).
    Expired,
    /// `iat` = now + 1 hour (`exp` after it).
    IssuedInFuture,
    /// `iat` 11 minutes old, `exp` still ahead.
    IssuedTooLongAgo,
    /// `at_hash` of another access token.
    WrongAccessTokenHash,
    /// Header `{"alg":"none"}`, empty signature part.
    AlgNone,
    /// Header `alg` HS256, HMAC-SHA256 keyed with the public key's bytes (the
    /// uncompressed SEC1 point, 65 bytes), published `kid`.
    HmacWithPublicKey,
    /// `nonce` = a different random value.
    WrongNonce,
    /// No `nonce` claim.
    MissingNonce,
    /// `/userinfo` answers with a different `sub`.
    UserinfoSubjectMismatch,
    /// The authorization response carries `iss=<another URL>` (RFC 9207 mix-up).
    WrongIssParameter,
    /// `/token` answers 400 `{"error":"invalid_grant"}`.
    TokenEndpointError,
    /// `/token` sleeps 30 s before answering.
    SlowTokenEndpoint,
    /// `/jwks` sleeps 30 s before answering.
    SlowKeys,
    /// The discovery document answers 503.
    DiscoveryUnavailable,
    /// `/token` answers a valid token response followed by a megabyte of spaces.
    OversizedTokenResponse,
    /// The token endpoint refuses every refresh token (`invalid_grant`), as after a user
    /// revoked the app's access at the provider.
    RefreshRejected,
    /// ID token signed with the key the last rotation retired, under its `kid` (as someone
    /// holding a leaked old key would).
    SignWithRetiredKey,
    /// The discovery document names no `end_session_endpoint` (as Google's does not).
    NoEndSessionEndpoint,
}

struct Inner {
    issuer: url::Url,
    /// The issuer as it appears in `iss` and the discovery document: no trailing slash.
    issuer_str: String,
    client: DevClient,
    misbehaviour: Mutex<Misbehaviour>,
    key: Mutex<Arc<KeyPair>>,
    /// The key the last rotation replaced: no longer published.
    retired_key: Mutex<Option<Arc<KeyPair>>>,
    /// `Cache-Control: max-age` of the JWKS answer, if any.
    jwks_max_age: Mutex<Option<u64>>,
    store: Mutex<Store>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    /// Every `sid` put into an ID token, oldest first.
    issued_sids: Mutex<Vec<String>>,
    /// Every `sid` signed out at the end-session endpoint, oldest first.
    ended_sids: Mutex<Vec<String>>,
    refreshes: AtomicUsize,
    revocations: AtomicUsize,
}

impl DevIdp {
    /// `issuer`: absolute URL where `router()` is mounted, e.g.
    /// `http://127.0.0.1:3000/dev-idp` (no trailing slash).
    pub fn new(issuer: url::Url, client: DevClient) -> Self {
        let issuer_str = issuer.as_str().trim_end_matches('/').to_owned();
        Self {
            inner: Arc::new(Inner {
                issuer,
                issuer_str,
                client,
                misbehaviour: Mutex::new(Misbehaviour::None),
                key: Mutex::new(Arc::new(KeyPair::generate())),
                retired_key: Mutex::new(None),
                jwks_max_age: Mutex::new(None),
                store: Mutex::new(Store::default()),
                jwks_fetches: AtomicUsize::new(0),
                discovery_fetches: AtomicUsize::new(0),
                issued_sids: Mutex::new(Vec::new()),
                ended_sids: Mutex::new(Vec::new()),
                refreshes: AtomicUsize::new(0),
                revocations: AtomicUsize::new(0),
            }),
        }
    }

    /// The issuer URL given to [`DevIdp::new`].
    pub fn issuer(&self) -> &url::Url {
        &self.inner.issuer
    }

    /// Routes relative to the mount point; the caller does
    /// `Router::new().nest("/dev-idp", idp.router())`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/openid-configuration", get(endpoints::discovery))
            .route("/jwks", get(endpoints::jwks))
            .route("/authorize", get(endpoints::authorize_get).post(endpoints::authorize_post))
            .route("/token", axum::routing::post(endpoints::token))
            .route("/revoke", axum::routing::post(endpoints::revoke))
            .route("/userinfo", get(endpoints::userinfo).post(endpoints::userinfo))
            .route("/sign-out", get(endpoints::sign_out_get).post(endpoints::sign_out_post))
            .route("/logout", get(endpoints::end_session_get).post(endpoints::end_session_post))
            .with_state(self.clone())
    }

    /// Test knob: how the provider misbehaves from now on (applies to later requests).
    pub fn set_misbehaviour(&self, m: Misbehaviour) {
        *lock(&self.inner.misbehaviour) = m;
        tracing::info!(misbehaviour = ?m, "dev identity provider misbehaviour set");
    }

    /// Key rotation: a new signing key with a new `kid`; the JWKS then
    /// publishes only the new key.
    pub fn rotate_signing_key(&self) {
        let new = Arc::new(KeyPair::generate());
        tracing::info!(kid = new.kid(), "dev identity provider rotated its signing key");
        let old = std::mem::replace(&mut *lock(&self.inner.key), new);
        *lock(&self.inner.retired_key) = Some(old);
    }

    /// Test knob: the JWKS answer says `Cache-Control: max-age=<seconds>` (`None`: no header).
    pub fn set_jwks_max_age(&self, seconds: Option<u64>) {
        *lock(&self.inner.jwks_max_age) = seconds;
    }

    /// How many times /jwks has been fetched.
    pub fn jwks_fetch_count(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    /// A back-channel logout token (`typ: logout+jwt`) with these claims, signed as `signing`
    /// says with the current key.
    pub fn logout_token(&self, signing: jwt::Signing, claims: &serde_json::Value) -> String {
        self.key().encode_typed(signing, "logout+jwt", claims)
    }

    /// How many times the discovery document has been fetched.
    pub fn discovery_fetch_count(&self) -> usize {
        self.inner.discovery_fetches.load(Ordering::SeqCst)
    }

    /// The provider session ids (`sid`) put into ID tokens so far, oldest first.
    pub fn issued_sids(&self) -> Vec<String> {
        lock(&self.inner.issued_sids).clone()
    }

    fn note_issued_sid(&self, sid: &str) {
        lock(&self.inner.issued_sids).push(sid.to_string());
    }

    /// The provider session ids (`sid`) signed out at the end-session endpoint, oldest first.
    pub fn ended_sids(&self) -> Vec<String> {
        lock(&self.inner.ended_sids).clone()
    }

    fn note_ended_sid(&self, sid: &str) {
        lock(&self.inner.ended_sids).push(sid.to_string());
    }

    /// The claims of an ID token this provider issued to its client (signed with its current
    /// or last retired key; expired ones too, as a hint may be).
    fn issued_id_token(&self, token: &str) -> Option<serde_json::Value> {
        let retired = lock(&self.inner.retired_key).clone();
        let claims = std::iter::once(self.key()).chain(retired).find_map(|key| key.verified_claims(token))?;
        let aud = claims.get("aud")?;
        let for_client = aud.as_str() == Some(self.client().client_id.as_str())
            || aud.as_array().is_some_and(|list| list.iter().any(|a| a.as_str() == Some(&self.client().client_id)));
        (claims.get("iss")?.as_str()? == self.issuer_str() && for_client).then_some(claims)
    }

    /// How many refresh-token grants the token endpoint has answered successfully.
    pub fn refresh_count(&self) -> usize {
        self.inner.refreshes.load(Ordering::SeqCst)
    }

    /// How many tokens the revocation endpoint (RFC 7009) has revoked.
    pub fn revocation_count(&self) -> usize {
        self.inner.revocations.load(Ordering::SeqCst)
    }

    fn count_revocation(&self) {
        self.inner.revocations.fetch_add(1, Ordering::SeqCst);
    }

    fn count_refresh(&self) {
        self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
    }

    fn misbehaviour(&self) -> Misbehaviour {
        *lock(&self.inner.misbehaviour)
    }

    fn key(&self) -> Arc<KeyPair> {
        lock(&self.inner.key).clone()
    }

    /// The key that signs ID tokens: the current one, unless misbehaving with a retired one.
    fn signing_key(&self, misbehaviour: Misbehaviour) -> Arc<KeyPair> {
        match (misbehaviour, lock(&self.inner.retired_key).clone()) {
            (Misbehaviour::SignWithRetiredKey, Some(retired)) => retired,
            _ => self.key(),
        }
    }

    fn jwks_max_age(&self) -> Option<u64> {
        *lock(&self.inner.jwks_max_age)
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    fn issuer_str(&self) -> &str {
        &self.inner.issuer_str
    }

    fn client(&self) -> &DevClient {
        &self.inner.client
    }

    fn count_jwks_fetch(&self) {
        self.inner.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    }

    fn count_discovery_fetch(&self) {
        self.inner.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.inner.issuer_str)
            .field("client_id", &self.inner.client.client_id)
            .finish_non_exhaustive()
    }
}

/// Locks a mutex, shrugging off poisoning (the data stays consistent: no
/// critical section here can leave it half-updated).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A fresh random secret: 256 bits, base64url without padding.
fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7636 S256: the code challenge for a verifier, base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The stable subject for a test person: the first 32 hex characters of
/// SHA-256("latchkey-dev-idp:" + lower-cased email).
pub fn subject_for_email(email: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("latchkey-dev-idp:{}", email.to_lowercase()));
    let mut hex = hex::encode(digest);
    hex.truncate(32);
    hex
}
