//! The OpenID Connect relying party for one provider: discovery, the authorization
//! request, the code exchange and every check on what comes back.

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreGrantType, CoreIdTokenClaims, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use url::Url;

use crate::config::ProviderConfig;

/// How long discovery results are trusted before they are fetched again.
const METADATA_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How far in the past an ID token's `iat` may lie: it was issued for this very exchange.
const MAX_ID_TOKEN_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// Clock skew tolerated for `iat` in the future.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Asymmetric algorithms only: never `none`, never HMAC (which would key on a public value).
const ACCEPTABLE_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
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

/// RFC 9207: whether the provider promises an `iss` parameter on its authorization responses.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct IssParameterSupport {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for IssParameterSupport {}

type Metadata = ProviderMetadata<
    IssParameterSupport,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider could not be reached or its configuration could not be read: {0}")]
    Unavailable(String),
    #[error("the provider refused the authorization code: {0}")]
    CodeRejected(String),
    #[error("the provider's answer was not valid: {0}")]
    InvalidResponse(String),
    #[error("the ID token failed verification: {0}")]
    InvalidIdToken(String),
    #[error("the userinfo response failed verification: {0}")]
    InvalidUserInfo(String),
}

/// What a sign-in start needs to send the browser to the provider and to remember.
pub struct AuthorizationRequest {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The identity the provider vouched for, after every check passed.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
}

struct Discovered {
    metadata: Metadata,
    fetched_at: Instant,
    jwks_fetched_at: Instant,
}

pub struct OidcProvider {
    config: ProviderConfig,
    redirect_uri: RedirectUrl,
    http: reqwest::Client,
    discovered: RwLock<Option<Discovered>>,
    /// Minimum time between two JWKS fetches triggered by an unknown `kid`, so forged tokens
    /// cannot make us hammer the provider.
    jwks_refetch_interval: Duration,
}

impl OidcProvider {
    pub fn new(config: ProviderConfig, redirect_uri: Url, http: reqwest::Client, jwks_refetch_interval: Duration) -> Self {
        OidcProvider {
            config,
            redirect_uri: RedirectUrl::from_url(redirect_uri),
            http,
            discovered: RwLock::new(None),
            jwks_refetch_interval,
        }
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }
    pub fn name(&self) -> &str {
        &self.config.name
    }
    pub fn kind(&self) -> &str {
        self.config.kind.as_str()
    }
    /// Whether this provider's verified emails may link accounts automatically.
    pub fn trusts_email(&self) -> bool {
        self.config.trust_email
    }
    /// The configured issuer, exactly as discovery must confirm it.
    pub fn issuer(&self) -> &str {
        self.config.issuer.as_str()
    }

    /// Builds the authorization request: PKCE S256, fresh `state` and `nonce` (128+ bits each).
    pub async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new(crate::util::random_token()),
                || Nonce::new(crate::util::random_token()),
            )
            .set_pkce_challenge(pkce_challenge);
        for scope in self.config.scopes.iter().filter(|scope| *scope != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(AuthorizationRequest {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: pkce_verifier.secret().clone(),
        })
    }

    /// RFC 9207 mix-up defence: the `iss` parameter of the authorization response, if the
    /// provider advertises it (then it is required) or sends it anyway, must be this issuer.
    pub async fn check_iss_parameter(&self, iss: Option<&str>) -> Result<(), ProviderError> {
        let metadata = self.metadata().await?;
        let advertised = metadata.additional_metadata().authorization_response_iss_parameter_supported;
        match iss {
            Some(iss) if iss == metadata.issuer().as_str() => Ok(()),
            Some(iss) => Err(ProviderError::InvalidResponse(format!(
                "the response says it comes from `{iss}`, not from `{}`",
                metadata.issuer().as_str()
            ))),
            None if advertised => Err(ProviderError::InvalidResponse(
                "the provider promises an `iss` parameter but the response has none".into(),
            )),
            None => Ok(()),
        }
    }

    /// Exchanges the code (with the PKCE verifier and the client secret), verifies the ID
    /// token and reads userinfo.
    pub async fn complete(&self, code: &str, pkce_verifier: &str, nonce: &str) -> Result<VerifiedIdentity, ProviderError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let token_response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(response) => ProviderError::CodeRejected(response.to_string()),
                RequestTokenError::Request(e) => ProviderError::Unavailable(format!("token endpoint: {e}")),
                RequestTokenError::Parse(e, _) => ProviderError::InvalidResponse(format!("token response: {e}")),
                RequestTokenError::Other(e) => ProviderError::InvalidResponse(e),
            })?;
        let id_token = token_response
            .id_token()
            .ok_or_else(|| ProviderError::InvalidResponse("the token response has no ID token".into()))?;

        let nonce = Nonce::new(nonce.to_string());
        let claims = match self.verify_id_token(&metadata, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // Perhaps the provider rotated its keys: fetch the JWKS again (rate-limited) and retry once.
                if self.refresh_jwks().await? {
                    let metadata = self.metadata().await?;
                    self.verify_id_token(&metadata, id_token, &nonce)
                } else {
                    Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey))
                }
            }
            other => other,
        }
        .map_err(|e| ProviderError::InvalidIdToken(describe_claims_error(&e)))?;

        if let Some(azp) = claims.authorized_party() {
            if azp.as_str() != self.config.client_id {
                return Err(ProviderError::InvalidIdToken(format!("it was issued to another party (`azp` is `{}`)", azp.as_str())));
            }
        }

        let mut identity = VerifiedIdentity {
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
            email: claims.email().map(|e| e.as_str().to_string()),
            email_verified: claims.email().is_some() && claims.email_verified().unwrap_or(false),
            picture: claims.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_string()),
        };

        if client.user_info_url().is_some() {
            let userinfo: openidconnect::core::CoreUserInfoClaims = client
                .user_info(token_response.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| ProviderError::InvalidUserInfo(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| match e {
                    openidconnect::UserInfoError::ClaimsVerification(e) => {
                        ProviderError::InvalidUserInfo(describe_claims_error(&e))
                    }
                    openidconnect::UserInfoError::Request(e) => ProviderError::Unavailable(format!("userinfo endpoint: {e}")),
                    other => ProviderError::InvalidUserInfo(other.to_string()),
                })?;
            // The ID token is authoritative; userinfo only fills gaps. An email from userinfo
            // counts as verified only if userinfo says so for that same address.
            if identity.name.is_none() {
                identity.name = userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string());
            }
            if identity.picture.is_none() {
                identity.picture = userinfo.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_string());
            }
            if identity.email.is_none() {
                if let Some(email) = userinfo.email() {
                    identity.email = Some(email.as_str().to_string());
                    identity.email_verified = userinfo.email_verified().unwrap_or(false);
                }
            }
        }
        Ok(identity)
    }

    fn verify_id_token(
        &self,
        metadata: &Metadata,
        id_token: &openidconnect::core::CoreIdToken,
        nonce: &Nonce,
    ) -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
        let client = self.client(metadata);
        let verifier = client.id_token_verifier().set_allowed_algs(allowed_algorithms(metadata)).set_issue_time_verifier_fn(|iat| {
            let now = chrono::Utc::now();
            if iat > now + CLOCK_SKEW {
                Err(format!("it claims to be issued in the future ({iat})"))
            } else if iat < now - MAX_ID_TOKEN_AGE {
                Err(format!("it was issued too long ago ({iat})"))
            } else {
                Ok(())
            }
        });
        id_token.claims(&verifier, nonce).cloned()
    }

    fn client(&self, metadata: &Metadata) -> Client {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.expose().to_string())),
        )
        .set_redirect_uri(self.redirect_uri.clone())
    }

    /// Discovery, cached. The document's `issuer` must equal the configured one
    /// (openidconnect checks this on discovery).
    async fn metadata(&self) -> Result<Metadata, ProviderError> {
        if let Some(discovered) = self.discovered.read().await.as_ref() {
            if discovered.fetched_at.elapsed() < METADATA_LIFETIME {
                return Ok(discovered.metadata.clone());
            }
        }
        let mut slot = self.discovered.write().await;
        if let Some(discovered) = slot.as_ref() {
            if discovered.fetched_at.elapsed() < METADATA_LIFETIME {
                return Ok(discovered.metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(self.issuer().trim_end_matches('/').to_string())
            .map_err(|e| ProviderError::Unavailable(format!("the issuer is not a URL: {e}")))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("discovery at {} failed: {}", self.issuer(), error_chain(&e))))?;
        let now = Instant::now();
        *slot = Some(Discovered { metadata: metadata.clone(), fetched_at: now, jwks_fetched_at: now });
        Ok(metadata)
    }

    /// Fetches the JWKS again unless that happened within the refetch interval.
    /// Returns whether new keys were loaded.
    async fn refresh_jwks(&self) -> Result<bool, ProviderError> {
        let mut slot = self.discovered.write().await;
        let Some(discovered) = slot.as_mut() else { return Ok(false) };
        if discovered.jwks_fetched_at.elapsed() < self.jwks_refetch_interval {
            return Ok(false);
        }
        discovered.jwks_fetched_at = Instant::now();
        let jwks = CoreJsonWebKeySet::fetch_async(discovered.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| ProviderError::Unavailable(format!("fetching the provider's keys failed: {}", error_chain(&e))))?;
        tracing::info!(provider = %self.config.id, keys = jwks.keys().len(), "refetched the provider's signing keys");
        discovered.metadata = discovered.metadata.clone().set_jwks(jwks);
        Ok(true)
    }
}

/// The provider's advertised algorithms, intersected with the asymmetric allow-list.
fn allowed_algorithms(metadata: &Metadata) -> Vec<CoreJwsSigningAlgorithm> {
    let allowed: Vec<_> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| ACCEPTABLE_ALGORITHMS.contains(alg))
        .cloned()
        .collect();
    if allowed.is_empty() { vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256] } else { allowed }
}

fn describe_claims_error(error: &ClaimsVerificationError) -> String {
    match error {
        ClaimsVerificationError::SignatureVerification(inner) => format!("bad signature ({inner})"),
        other => other.to_string(),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
