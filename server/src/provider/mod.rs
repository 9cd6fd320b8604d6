//! Identity providers: the configured list, and the client each one uses.
//!
//! [`Provider`] is what the login flow talks to. It dispatches to one of two clients:
//! - [`OidcProvider`]: OpenID Connect — generic (`oidc`), and the `google` and `microsoft`
//!   presets, which differ only in their issuer rules and extra claims checks;
//! - [`GitHubProvider`]: OAuth 2.0 plus GitHub's REST API (`github`).

mod github;
mod google;
mod http;
pub mod logout_token;
mod microsoft;
mod oidc;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

pub use http::{MAX_RESPONSE_BYTES, ProviderHttp};

pub use github::GitHubProvider;
pub use oidc::OidcProvider;

use latchkey_types::{ProviderId, ProviderKind, ProviderSummary};

use crate::config::{Config, ProviderConfig, ProviderSettings};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider could not be reached or its configuration could not be read: {0}")]
    Unavailable(String),
    #[error("the provider refused the authorization code: {0}")]
    CodeRejected(String),
    #[error("the provider's answer was not valid: {0}")]
    InvalidResponse(String),
    #[error("the ID token failed verification ({rule:?}): {detail}")]
    InvalidIdToken { rule: IdTokenRule, detail: String },
    #[error("the userinfo response failed verification: {0}")]
    InvalidUserInfo(String),
}

/// The rule an ID token broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenRule {
    /// Not signed by one of the provider's published keys with an allowed algorithm.
    Signature,
    /// `iss` is not the provider.
    Issuer,
    /// `aud` is not (only) latchkey.
    Audience,
    /// `azp` names another client.
    AuthorizedParty,
    /// `exp` has passed.
    Expiry,
    /// `iat` is more than the allowed clock skew in the future.
    IssuedInFuture,
    /// `iat` is older than the allowed age.
    IssuedTooLongAgo,
    /// `nonce` is not this sign-in's.
    Nonce,
    /// `at_hash` does not match the access token issued with it.
    AccessTokenHash,
    /// A claim the provider's kind requires is missing or not allowed (tenant, domain, …).
    Claims,
}

/// What a sign-in start needs to send the browser to the provider and to remember.
pub struct AuthorizationRequest {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The identity the provider vouched for, after every check passed.
/// `(issuer, subject)` is the key an identity is stored and found by.
#[derive(Clone, Debug)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
    /// What the provider issued to latchkey for this identity (never sent to the browser).
    pub tokens: ProviderTokens,
    /// What the provider said about its own session, kept with latchkey's session.
    pub provider_session: ProviderSession,
}

/// The provider's side of a sign-in, kept with the session it started (OpenID Connect only).
#[derive(Clone, Debug, Default)]
pub struct ProviderSession {
    /// The ID token's `sid`: a back-channel logout naming it ends latchkey's session.
    pub sid: Option<String>,
    /// The ID token as received (sealed at rest): sent back as `id_token_hint` when the person
    /// signs out of the provider too.
    pub id_token: Option<crate::config::Secret>,
}

/// Profile claims read from the provider's API after sign-in.
#[derive(Clone, Debug, Default)]
pub struct ProfileClaims {
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// The provider's own tokens from the code exchange.
#[derive(Clone, Debug, Default)]
pub struct ProviderTokens {
    pub access_token: Option<crate::config::Secret>,
    pub refresh_token: Option<crate::config::Secret>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub scopes: Vec<String>,
}

impl ProviderTokens {
    /// From an OAuth 2.0 token response; `requested` scopes stand in when the provider does
    /// not say which it granted (RFC 6749 §5.1: then they are the requested ones).
    pub fn from_response(response: &impl oauth2::TokenResponse, requested: &[String]) -> Self {
        ProviderTokens {
            access_token: Some(crate::config::Secret::new(response.access_token().secret().clone())),
            refresh_token: response.refresh_token().map(|t| crate::config::Secret::new(t.secret().clone())),
            expires_at: response
                .expires_in()
                .and_then(|d| chrono::TimeDelta::from_std(d).ok())
                .map(|d| chrono::Utc::now() + d),
            scopes: match response.scopes() {
                Some(granted) => granted.iter().map(|s| s.to_string()).collect(),
                None => requested.to_vec(),
            },
        }
    }
}

/// One configured provider, of whichever kind. Built once and shared behind an `Arc`, so
/// the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Provider {
    /// `oidc`, `google` and `microsoft`.
    Oidc(OidcProvider),
    /// `github`.
    GitHub(GitHubProvider),
}

impl Provider {
    pub fn new(config: ProviderConfig, redirect_uri: Url, http: ProviderHttp, jwks_refetch_interval: Duration) -> Self {
        match &config.settings {
            ProviderSettings::GitHub(settings) => {
                let settings = settings.clone();
                Provider::GitHub(GitHubProvider::new(config, settings, redirect_uri, http))
            }
            ProviderSettings::Oidc | ProviderSettings::Google(_) | ProviderSettings::Microsoft(_) => {
                Provider::Oidc(OidcProvider::new(config, redirect_uri, http, jwks_refetch_interval))
            }
        }
    }

    /// Reads the person's current name and picture from the provider's API with an access
    /// token (userinfo for OpenID Connect, `/user` for GitHub). `subject`, when given, must be
    /// the subject the provider answers for.
    pub async fn fetch_profile(
        &self,
        access_token: &str,
        subject: Option<&str>,
    ) -> Result<ProfileClaims, ProviderError> {
        match self {
            Provider::Oidc(provider) => provider.fetch_profile(access_token, subject).await,
            Provider::GitHub(provider) => provider.fetch_profile(access_token, subject).await,
        }
    }

    /// A back-channel logout token from this provider, checked (see [`logout_token`]); GitHub
    /// sends none.
    pub async fn verify_logout_token(
        &self,
        token: &str,
    ) -> Result<logout_token::LogoutRequest, logout_token::LogoutTokenError> {
        match self {
            Provider::Oidc(provider) => provider.verify_logout_token(token).await,
            Provider::GitHub(_) => Err(logout_token::LogoutTokenRule::NotOpenIdConnect.into()),
        }
    }

    /// Where to send a browser to sign out at the provider too (RP-Initiated Logout 1.0);
    /// `None` for a provider that offers no such endpoint (GitHub, Google).
    pub async fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &Url,
        state: &str,
    ) -> Result<Option<Url>, ProviderError> {
        match self {
            Provider::Oidc(provider) => provider.end_session_url(id_token_hint, post_logout_redirect_uri, state).await,
            Provider::GitHub(_) => Ok(None),
        }
    }

    /// Whether this provider is known to offer signing out there from latchkey, without
    /// waiting for discovery: `false` until discovery has run (a sign-in runs it).
    pub fn offers_sign_out(&self) -> bool {
        match self {
            Provider::Oidc(provider) => provider.known_end_session_endpoint().is_some(),
            Provider::GitHub(_) => false,
        }
    }

    /// Whether this provider is known to end latchkey's sessions itself (it advertises
    /// Back-Channel Logout), without waiting for discovery.
    pub fn offers_backchannel_logout(&self) -> bool {
        match self {
            Provider::Oidc(provider) => provider.known_to_send_logout_tokens(),
            Provider::GitHub(_) => false,
        }
    }

    /// Revokes latchkey's access at the provider (best effort is the caller's call): the refresh
    /// token where there is one (that ends the whole grant), else the access token.
    pub async fn revoke(&self, access_token: Option<&str>, refresh_token: Option<&str>) -> Result<(), ProviderError> {
        match self {
            Provider::Oidc(provider) => match (refresh_token, access_token) {
                (Some(refresh), _) => provider.revoke(refresh, "refresh_token").await,
                (None, Some(access)) => provider.revoke(access, "access_token").await,
                (None, None) => Ok(()),
            },
            Provider::GitHub(provider) => match access_token {
                Some(access) => provider.revoke(access).await,
                None => Ok(()),
            },
        }
    }

    /// Spends a refresh token at the provider for fresh tokens.
    pub async fn refresh(&self, refresh_token: &str) -> Result<ProviderTokens, ProviderError> {
        match self {
            Provider::Oidc(provider) => provider.refresh(refresh_token).await,
            Provider::GitHub(provider) => provider.refresh(refresh_token).await,
        }
    }

    fn config(&self) -> &ProviderConfig {
        match self {
            Provider::Oidc(provider) => provider.config(),
            Provider::GitHub(provider) => provider.config(),
        }
    }

    pub fn id(&self) -> &str {
        &self.config().id
    }
    pub fn name(&self) -> &str {
        &self.config().name
    }
    pub fn kind(&self) -> ProviderKind {
        self.config().settings.kind()
    }
    /// Whether this provider's verified emails may link accounts automatically.
    pub fn trusts_email(&self) -> bool {
        self.config().trust_email
    }
    /// OpenID Connect kinds: the configured issuer, as discovery must confirm it (Microsoft:
    /// the configured tenant's). GitHub: the issuer its identities are recorded under.
    pub fn issuer(&self) -> &str {
        match self {
            Provider::Oidc(provider) => provider.issuer(),
            Provider::GitHub(provider) => provider.issuer(),
        }
    }

    /// The origins a form post to latchkey may be redirected to: the issuer's, and the
    /// authorization and end-session endpoints' (as far as discovery has named them yet).
    pub fn authorization_origins(&self) -> Vec<String> {
        match self {
            Provider::Oidc(provider) => provider.browser_origins(),
            Provider::GitHub(provider) => vec![provider.settings().authorize_url.origin().ascii_serialization()],
        }
    }

    /// Builds the authorization request: PKCE S256 and a fresh `state` (and, for OpenID
    /// Connect, `nonce`), 256 bits each.
    pub async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError> {
        match self {
            Provider::Oidc(provider) => provider.authorization_request().await,
            Provider::GitHub(provider) => provider.authorization_request().await,
        }
    }

    /// RFC 9207 mix-up defence on the authorization response's `iss` parameter.
    pub async fn check_iss_parameter(&self, iss: Option<&str>) -> Result<(), ProviderError> {
        match self {
            Provider::Oidc(provider) => provider.check_iss_parameter(iss).await,
            Provider::GitHub(provider) => provider.check_iss_parameter(iss),
        }
    }

    /// Exchanges the code and establishes who signed in. GitHub has no ID token, so it
    /// ignores `nonce`.
    pub async fn complete(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, ProviderError> {
        match self {
            Provider::Oidc(provider) => provider.complete(code, pkce_verifier, nonce).await,
            Provider::GitHub(provider) => provider.complete(code, pkce_verifier).await,
        }
    }
}

/// The configured providers, in configuration order.
#[derive(Clone)]
pub struct Providers {
    list: Vec<Arc<Provider>>,
}

impl Providers {
    pub fn from_config(config: &Config, http: ProviderHttp, jwks_refetch_interval: Duration) -> Self {
        let list = config
            .providers
            .iter()
            .map(|provider| {
                Arc::new(Provider::new(
                    provider.clone(),
                    config.redirect_uri(&provider.id),
                    http.for_provider(&provider.id),
                    jwks_refetch_interval,
                ))
            })
            .collect();
        Providers { list }
    }

    /// Every origin a sign-in or link start may send the browser to (for the pages'
    /// Content-Security-Policy `form-action`), without repeats.
    pub fn authorization_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self.list.iter().flat_map(|provider| provider.authorization_origins()).collect();
        origins.sort();
        origins.dedup();
        origins
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.list.iter().find(|provider| provider.id() == id)
    }

    /// The button label of a configured provider (its id if it is no longer configured).
    pub fn name_of(&self, id: &str) -> String {
        self.get(id).map(|provider| provider.name().to_string()).unwrap_or_else(|| id.to_string())
    }

    pub fn summaries(&self) -> Vec<ProviderSummary> {
        self.list
            .iter()
            .map(|provider| ProviderSummary {
                id: ProviderId::new(provider.id()),
                name: provider.name().to_string(),
                kind: provider.kind(),
            })
            .collect()
    }
}

/// The token endpoint's refusal of a code or a refresh token means that grant is gone
/// (`CodeRejected`); a network failure means "try later".
pub(crate) fn token_endpoint_error<RE, T>(error: oauth2::RequestTokenError<RE, T>) -> ProviderError
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => ProviderError::CodeRejected(response.to_string()),
        oauth2::RequestTokenError::Request(e) => {
            ProviderError::Unavailable(format!("token endpoint: {}", error_chain(&e)))
        }
        oauth2::RequestTokenError::Parse(e, _) => ProviderError::InvalidResponse(format!("token response: {e}")),
        oauth2::RequestTokenError::Other(e) => ProviderError::InvalidResponse(e),
    }
}

/// An error and its sources, one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
