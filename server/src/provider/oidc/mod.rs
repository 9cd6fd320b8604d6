//! The OpenID Connect relying party for one provider: discovery, the authorization
//! request, the code exchange and every check on what comes back.
//!
//! One client serves three kinds: `oidc` (any provider, issuer compared exactly), `google`
//! (two spellings of the issuer, hosted-domain restriction) and `microsoft` (multi-tenant
//! issuer template, identity keyed on `tid` + `oid`). The kinds differ only in the issuer rules
//! and the checks after the ID token's own verification; the verification is shared.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, ExtraTokenFields, IdTokenClaims, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl, RefreshToken, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

mod cache;
mod jws;

use cache::{Cache, Copy, KeyRefresh, Lookup};

use jws::{allowed_algorithms, respell_issuer, unverified_issuer, verify_signature};

use super::http::{ProviderHttp, read_body};
use super::logout_token::{self, LogoutRequest, LogoutTokenError, LogoutTokenRule};
use super::microsoft;
use super::{AuthorizationRequest, IdTokenRule, ProviderError, VerifiedIdentity, error_chain, google};
use crate::config::{GoogleSettings, MicrosoftSettings, ProviderConfig, ProviderSettings};

/// How long discovery results are trusted before they are fetched again.
const METADATA_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long the provider's keys are trusted when its answer does not say (`Cache-Control:
/// max-age`, honoured between the JWKS refetch interval and a day): a key the provider
/// removed stops being trusted within this time.
const DEFAULT_JWKS_LIFETIME: Duration = Duration::from_secs(3600);
/// How far in the past an ID token's `iat` may lie: it was issued for this very exchange.
const MAX_ID_TOKEN_AGE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// Clock skew tolerated for `iat` in the future.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The discovery members latchkey reads beyond the core ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RFC 9207: whether the provider promises an `iss` parameter on its authorization responses.
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    /// RFC 7009 token revocation, where the provider offers it (Google does).
    #[serde(default)]
    revocation_endpoint: Option<String>,
    /// RP-Initiated Logout 1.0: where a browser is sent to sign out at the provider too.
    #[serde(default)]
    end_session_endpoint: Option<String>,
    /// Back-Channel Logout 1.0: the provider sends logout tokens to its clients.
    #[serde(default)]
    backchannel_logout_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// The non-standard ID token claims some kinds need: Microsoft's `tid`, `oid` and `xms_edov`,
/// Google's `hd`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ProviderClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xms_edov: Option<serde_json::Value>,
    /// The provider's session (OpenID Connect Front- and Back-Channel Logout): a logout token
    /// may name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}
impl AdditionalClaims for ProviderClaims {}

type Metadata = ProviderMetadata<
    ExtraMetadata,
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

type IdToken =
    openidconnect::IdToken<ProviderClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
type Claims = IdTokenClaims<ProviderClaims, CoreGenderClaim>;

/// The token response with the ID token kept as sent: openidconnect would parse it on arrival,
/// and cannot parse Google's scheme-less `iss` (no URL); it is parsed and verified later.
#[derive(Clone, Deserialize, Serialize)]
pub struct RawIdToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}
impl ExtraTokenFields for RawIdToken {}

/// Leaves the token out, as oauth2 does for access and refresh tokens: no log can carry it.
impl std::fmt::Debug for RawIdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawIdToken").field("id_token", &self.id_token.as_ref().map(|_| "..")).finish()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(transparent)]
pub struct RawTokenResponse(StandardTokenResponse<RawIdToken, CoreTokenType>);

impl OAuth2TokenResponse for RawTokenResponse {
    type TokenType = CoreTokenType;
    fn access_token(&self) -> &AccessToken {
        self.0.access_token()
    }
    fn token_type(&self) -> &CoreTokenType {
        self.0.token_type()
    }
    fn expires_in(&self) -> Option<Duration> {
        self.0.expires_in()
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.0.refresh_token()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.0.scopes()
    }
}

impl
    openidconnect::TokenResponse<
        ProviderClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    > for RawTokenResponse
{
    /// Never parsed here; see [`RawTokenResponse`].
    fn id_token(&self) -> Option<&IdToken> {
        None
    }
}

impl RawTokenResponse {
    fn raw_id_token(&self) -> Option<&str> {
        self.0.extra_fields().id_token.as_deref()
    }
}

type Client = openidconnect::Client<
    ProviderClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    RawTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The kind-specific rules.
#[derive(Clone, Copy)]
enum Flavor<'a> {
    Generic,
    Google(&'a GoogleSettings),
    Microsoft(&'a MicrosoftSettings),
}

/// What discovery yields: the provider's metadata (with its keys) and the client built from
/// it, made once per discovery or key refresh and shared (`Arc`) by every sign-in; with what
/// every page asks of it (its sign-out button, its policy's `form-action`) worked out once.
struct Endpoints {
    metadata: Metadata,
    client: Client,
    end_session: Option<Url>,
    /// The origins of the authorization and end-session endpoints.
    browser_origins: Vec<String>,
}

impl Endpoints {
    fn new(metadata: Metadata, client: Client) -> Self {
        let end_session = safe_end_session_endpoint(&metadata);
        let browser_origins = [Some(metadata.authorization_endpoint().url()), end_session.as_ref()]
            .into_iter()
            .flatten()
            .map(|url| url.origin().ascii_serialization())
            .collect();
        Endpoints { metadata, client, end_session, browser_origins }
    }
}

/// The end-session endpoint (an https one, or one on the issuer's origin).
fn safe_end_session_endpoint(metadata: &Metadata) -> Option<Url> {
    let endpoint = Url::parse(metadata.additional_metadata().end_session_endpoint.as_deref()?).ok()?;
    let issuer = Url::parse(metadata.issuer().as_str()).ok();
    // A browser is sent there with the ID token in the query: never over plain http to
    // anywhere but the provider's own origin (the development provider runs on http).
    let safe = endpoint.scheme() == "https" || issuer.is_some_and(|issuer| issuer.origin() == endpoint.origin());
    safe.then_some(endpoint)
}

impl std::ops::Deref for Endpoints {
    type Target = Metadata;
    fn deref(&self) -> &Metadata {
        &self.metadata
    }
}

pub struct OidcProvider {
    config: ProviderConfig,
    redirect_uri: RedirectUrl,
    http: ProviderHttp,
    discovered: Cache<Endpoints>,
    /// Minimum time between two JWKS fetches triggered by an unknown `kid`, so forged tokens
    /// cannot make us hammer the provider.
    jwks_refetch_interval: Duration,
    issuer_origin: Option<String>,
}

impl OidcProvider {
    pub fn new(config: ProviderConfig, redirect_uri: Url, http: ProviderHttp, jwks_refetch_interval: Duration) -> Self {
        let issuer_origin = Url::parse(config.issuer.as_str()).ok().map(|issuer| issuer.origin().ascii_serialization());
        OidcProvider {
            issuer_origin,
            config,
            redirect_uri: RedirectUrl::from_url(redirect_uri),
            http,
            discovered: Cache::default(),
            jwks_refetch_interval,
        }
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }
    pub fn id(&self) -> &str {
        &self.config.id
    }
    pub fn name(&self) -> &str {
        &self.config.name
    }
    pub fn kind(&self) -> latchkey_types::ProviderKind {
        self.config.settings.kind()
    }
    /// Whether this provider's verified emails may link accounts automatically.
    pub fn trusts_email(&self) -> bool {
        self.config.trust_email
    }
    /// The configured issuer, without a trailing slash: discovery is read from here, and its
    /// `issuer` must be exactly this (Microsoft: or its tenant template, see [`microsoft`]).
    pub fn issuer(&self) -> &str {
        self.config.issuer.as_str().trim_end_matches('/')
    }

    /// The origins a browser is sent to from here (the issuer's; the authorization and
    /// end-session endpoints' once discovery has run, without waiting for it).
    pub fn browser_origins(&self) -> Vec<String> {
        let discovered = self.discovered.peek();
        let endpoints = discovered.iter().flat_map(|endpoints| endpoints.browser_origins.iter().cloned());
        self.issuer_origin.iter().cloned().chain(endpoints).collect()
    }

    fn flavor(&self) -> Flavor<'_> {
        match &self.config.settings {
            ProviderSettings::Google(settings) => Flavor::Google(settings),
            ProviderSettings::Microsoft(settings) => Flavor::Microsoft(settings),
            ProviderSettings::Oidc | ProviderSettings::GitHub(_) => Flavor::Generic,
        }
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
        if let Flavor::Google(settings) = self.flavor() {
            for (name, value) in google::authorize_params(settings, &self.config.scopes) {
                request = request.add_extra_param(name, value);
            }
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
    /// provider advertises it (then it is required) or sends it anyway, must name this issuer.
    pub async fn check_iss_parameter(&self, iss: Option<&str>) -> Result<(), ProviderError> {
        let metadata = self.metadata().await?;
        let advertised = metadata.additional_metadata().authorization_response_iss_parameter_supported;
        let issuer = metadata.issuer().as_str();
        match iss {
            Some(iss) => {
                let accepted = match self.flavor() {
                    Flavor::Generic => iss == issuer,
                    Flavor::Google(_) => iss == issuer || Some(iss) == google::issuer_alias(issuer),
                    Flavor::Microsoft(settings) => microsoft::tenancy(settings, issuer)
                        .is_ok_and(|tenancy| microsoft::accepts_iss_parameter(settings, &tenancy, iss)),
                };
                if accepted {
                    Ok(())
                } else {
                    Err(ProviderError::InvalidResponse(format!(
                        "the response says it comes from `{iss}`, not from `{issuer}`"
                    )))
                }
            }
            None if advertised => Err(ProviderError::InvalidResponse(
                "the provider promises an `iss` parameter but the response has none".into(),
            )),
            None => Ok(()),
        }
    }

    /// Exchanges the code (with the PKCE verifier and the client secret), verifies the ID
    /// token, applies the kind's rules and reads userinfo.
    pub async fn complete(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, ProviderError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let token_response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(super::token_endpoint_error)?;
        // Any other token type (`MAC`, …) must not be used as a bearer token.
        if *token_response.token_type() != openidconnect::core::CoreTokenType::Bearer {
            return Err(ProviderError::InvalidResponse(format!(
                "the token endpoint issued a `{}` token, not a bearer token",
                token_response.token_type().as_ref()
            )));
        }
        let id_token = token_response
            .raw_id_token()
            .ok_or_else(|| ProviderError::InvalidResponse("the token response has no ID token".into()))?;

        let nonce = Nonce::new(nonce.to_string());
        let (metadata, claims) = match self.verify_id_token(&metadata, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // Perhaps the provider rotated its keys: fetch the JWKS again (rate-limited) and retry once.
                if self.refresh_jwks().await? {
                    let metadata = self.metadata().await?;
                    let claims = self.verify_id_token(&metadata, id_token, &nonce);
                    claims.map(|claims| (metadata, claims))
                } else {
                    Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey))
                }
            }
            other => other.map(|claims| (metadata, claims)),
        }
        .map_err(|e| ProviderError::InvalidIdToken { rule: broken_rule(&e), detail: describe_claims_error(&e) })?;

        // `at_hash` binds the access token to the ID token: checked whenever it is present.
        if let Some(at_hash) = claims.access_token_hash()
            && jws::access_token_hash(id_token, token_response.access_token().secret()).as_deref()
                != Some(at_hash.as_str())
        {
            return Err(ProviderError::InvalidIdToken {
                rule: IdTokenRule::AccessTokenHash,
                detail: "`at_hash` does not match the access token".into(),
            });
        }

        if let Some(azp) = claims.authorized_party()
            && azp.as_str() != self.config.client_id
        {
            return Err(ProviderError::InvalidIdToken {
                rule: IdTokenRule::AuthorizedParty,
                detail: format!("it was issued to another party (`azp` is `{}`)", azp.as_str()),
            });
        }

        let mut identity = self
            .identity(&metadata, &claims)
            .map_err(|detail| ProviderError::InvalidIdToken { rule: IdTokenRule::Claims, detail })?;

        let client = self.client(&metadata);
        // Userinfo only fills gaps: an ID token with the name, the email and the picture (Google's,
        // with the `profile` scope) spares the sign-in a round trip to the provider.
        let has_gaps = identity.name.is_none() || identity.email.is_none() || identity.picture.is_none();
        if has_gaps && client.user_info_url().is_some() {
            let userinfo: openidconnect::core::CoreUserInfoClaims = client
                .user_info(token_response.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| ProviderError::InvalidUserInfo(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(userinfo_error)?;
            // The ID token is authoritative; userinfo only fills gaps. An email from userinfo
            // counts as verified only if userinfo says so for that same address (and never for
            // Microsoft, whose userinfo cannot say so).
            if identity.name.is_none() {
                identity.name = userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string());
            }
            if identity.picture.is_none() {
                identity.picture = userinfo.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_string());
            }
            if identity.email.is_none()
                && let Some(email) = userinfo.email()
            {
                identity.email = Some(email.as_str().to_string());
                identity.email_verified =
                    !matches!(self.flavor(), Flavor::Microsoft(_)) && userinfo.email_verified().unwrap_or(false);
            }
        }
        identity.tokens = super::ProviderTokens::from_response(&token_response, &self.config.scopes);
        identity.provider_session.id_token = Some(crate::config::Secret::new(id_token));
        Ok(identity)
    }

    /// A back-channel logout token from this provider: its signature checked like an ID
    /// token's (the provider's keys, the algorithm allow-list, the keys fetched again once for
    /// an unknown key id), then its rules (see [`super::logout_token`]).
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutRequest, LogoutTokenError> {
        let mut metadata = self.metadata().await?;
        let mut signature = jws::verify_signature(&metadata, token);
        if let Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) =
            signature
            && self.refresh_jwks().await?
        {
            metadata = self.metadata().await?;
            signature = jws::verify_signature(&metadata, token);
        }
        signature.map_err(|_| LogoutTokenRule::Signature)?;
        let [header, payload, _] = jws::jws_parts(token).map_err(|_| LogoutTokenRule::Signature)?;
        let header = jws::decode_json(header).map_err(|_| LogoutTokenRule::Signature)?;
        let claims = jws::decode_json(payload).map_err(|_| LogoutTokenRule::Signature)?;
        let discovered_issuer = metadata.issuer().as_str();
        let is_issuer = |iss: &str| match self.flavor() {
            Flavor::Generic | Flavor::Google(_) => iss == discovered_issuer,
            // Multi-tenant: the issuer of the token's tenant, if that tenant may sign in.
            Flavor::Microsoft(settings) => {
                iss == discovered_issuer
                    || microsoft::tenant_of_issuer(settings, iss)
                        .is_some_and(|tid| microsoft::tenant_allowed(settings, &tid))
            }
        };
        let mut request = logout_token::check(&header, &claims, is_issuer, &self.config.client_id, chrono::Utc::now())?;
        if let Flavor::Microsoft(_) = self.flavor() {
            // Microsoft identities are keyed by `oid`, never by the pairwise `sub`: only an
            // `oid` names one; a token naming neither it nor a session names nobody.
            request.subject = claims.get("oid").and_then(serde_json::Value::as_str).map(str::to_string);
            if request.subject.is_none() && request.session.is_none() {
                return Err(LogoutTokenRule::NoSubjectOrSession.into());
            }
        }
        Ok(request)
    }

    /// The userinfo endpoint's name and picture, with a stored access token.
    pub async fn fetch_profile(
        &self,
        access_token: &str,
        subject: Option<&str>,
    ) -> Result<super::ProfileClaims, ProviderError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let userinfo: openidconnect::core::CoreUserInfoClaims = client
            .user_info(
                AccessToken::new(access_token.to_string()),
                subject.map(|s| openidconnect::SubjectIdentifier::new(s.to_string())),
            )
            .map_err(|e| ProviderError::InvalidUserInfo(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(userinfo_error)?;
        Ok(super::ProfileClaims {
            name: userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
            picture: userinfo.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_string()),
        })
    }

    /// Where to send a browser to sign out at the provider too (RP-Initiated Logout 1.0), if
    /// discovery names an end-session endpoint: with the sign-in's ID token as the hint, the
    /// client id, where to come back to, and `state`.
    pub async fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: &Url,
        state: &str,
    ) -> Result<Option<Url>, ProviderError> {
        let Some(mut url) = self.metadata().await?.end_session.clone() else { return Ok(None) };
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint);
            }
            query
                .append_pair("client_id", &self.config.client_id)
                .append_pair("post_logout_redirect_uri", post_logout_redirect_uri.as_str())
                .append_pair("state", state);
        }
        Ok(Some(url))
    }

    /// Whether discovery (as far as it has run) says the provider sends back-channel logout tokens.
    pub fn known_to_send_logout_tokens(&self) -> bool {
        self.discovered.peek().is_some_and(|endpoints| endpoints.additional_metadata().backchannel_logout_supported)
    }

    /// The end-session endpoint as far as discovery has named it yet (without waiting for it).
    pub fn known_end_session_endpoint(&self) -> Option<Url> {
        self.discovered.peek()?.end_session.clone()
    }

    /// Revokes a token at the provider's RFC 7009 endpoint, if it has one.
    pub async fn revoke(&self, token: &str, token_type_hint: &str) -> Result<(), ProviderError> {
        let metadata = self.metadata().await?;
        let Some(endpoint) = metadata.additional_metadata().revocation_endpoint.clone() else { return Ok(()) };
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let response = self
            .http
            .send(
                self.http
                    .client()
                    .post(endpoint)
                    .basic_auth(encode(&self.config.client_id), Some(encode(self.config.client_secret.expose())))
                    .form(&[("token", token), ("token_type_hint", token_type_hint)]),
            )
            .await
            .map_err(|e| ProviderError::Unavailable(format!("revocation endpoint: {}", error_chain(&e))))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ProviderError::InvalidResponse(format!("revocation answered HTTP {}", response.status())))
        }
    }

    /// A new access token (and perhaps a rotated refresh token) for a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<super::ProviderTokens, ProviderError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_string()))
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(super::token_endpoint_error)?;
        Ok(super::ProviderTokens::from_response(&response, &self.config.scopes))
    }

    /// The identity a verified ID token vouches for, after the kind's own rules.
    fn identity(&self, metadata: &Metadata, claims: &Claims) -> Result<VerifiedIdentity, String> {
        let extra = claims.additional_claims();
        let email = claims.email().map(|e| e.as_str().to_string());
        let mut identity = VerifiedIdentity {
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
            email_verified: email.is_some() && claims.email_verified().unwrap_or(false),
            email,
            picture: claims.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_string()),
            tokens: Default::default(),
            provider_session: super::ProviderSession {
                sid: extra.sid.clone().filter(|sid| !sid.is_empty()),
                id_token: None,
            },
        };
        match self.flavor() {
            Flavor::Generic => {}
            Flavor::Google(settings) => google::check_hosted_domain(settings, extra.hd.as_deref())?,
            Flavor::Microsoft(settings) => {
                let tenancy = microsoft::tenancy(settings, metadata.issuer().as_str())?;
                let (issuer, subject) = microsoft::identity_key(
                    settings,
                    &tenancy,
                    claims.issuer().as_str(),
                    extra.tid.as_deref(),
                    extra.oid.as_deref(),
                )?;
                identity.issuer = issuer;
                identity.subject = subject;
                identity.email_verified = identity.email.is_some()
                    && microsoft::email_verified(extra.xms_edov.as_ref(), claims.email_verified());
            }
        }
        Ok(identity)
    }

    /// Signature (allow-listed asymmetric algorithms, the provider's keys), `aud` (no untrusted
    /// extra audiences), `exp`, `iat` window, `nonce` — all by openidconnect — and `iss`.
    fn verify_id_token(
        &self,
        metadata: &Endpoints,
        id_token: &str,
        nonce: &Nonce,
    ) -> Result<Claims, ClaimsVerificationError> {
        let client = self.client(metadata);
        let verifier = client
            .id_token_verifier()
            // `iss` is checked below, by the kind's rules.
            .require_issuer_match(false)
            .set_allowed_algs(allowed_algorithms(metadata))
            .set_issue_time_verifier_fn(|iat| {
                let now = chrono::Utc::now();
                if iat > now + CLOCK_SKEW {
                    Err(format!("{ISSUED_IN_FUTURE} ({iat})"))
                } else if iat < now - MAX_ID_TOKEN_AGE {
                    Err(format!("{ISSUED_TOO_LONG_AGO} ({iat})"))
                } else {
                    Ok(())
                }
            });
        let issuer = metadata.issuer().as_str();
        // The signature is checked here, on the token exactly as sent (see `jws`: the same
        // rules as openidconnect's, with a faster ES256); openidconnect checks everything else.
        verify_signature(metadata, id_token)?;
        let verifier = verifier.insecure_disable_signature_check();
        // Only Google's tokens are decoded for their unverified `iss` (the guard runs only then).
        let google_alias = |iss: String| Some(iss.as_str()) == google::issuer_alias(issuer);
        let claims = match self.flavor() {
            Flavor::Google(_) if unverified_issuer(id_token).is_some_and(google_alias) => {
                // `accounts.google.com` is no URL, so openidconnect cannot even parse the token:
                // it reads the same claims with `iss` spelled as the issuer URL.
                parse_id_token(&respell_issuer(id_token, issuer)?)?.into_claims(&verifier, nonce)?
            }
            _ => parse_id_token(id_token)?.into_claims(&verifier, nonce)?,
        };
        match self.flavor() {
            Flavor::Generic | Flavor::Google(_) if claims.issuer().as_str() != issuer => {
                Err(ClaimsVerificationError::InvalidIssuer(format!(
                    "expected `{issuer}` (found `{}`)",
                    claims.issuer().as_str()
                )))
            }
            // Microsoft: the issuer depends on the token's tenant; see `identity`.
            _ => Ok(claims),
        }
    }

    fn client<'a>(&self, endpoints: &'a Endpoints) -> &'a Client {
        &endpoints.client
    }

    /// `current` with the keys fetched at `fetched_at`, good for `lifetime`; discovery as it was.
    fn with_keys(
        &self,
        current: Copy<Endpoints>,
        jwks: CoreJsonWebKeySet,
        lifetime: Duration,
        fetched_at: Instant,
    ) -> Copy<Endpoints> {
        Copy {
            value: self.endpoints(current.value.metadata.clone().set_jwks(jwks)),
            keys_due: fetched_at + lifetime,
            keys_fetched_at: fetched_at,
            ..current
        }
    }

    fn endpoints(&self, metadata: Metadata) -> Arc<Endpoints> {
        let client = Client::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.expose().to_string())),
        )
        .set_redirect_uri(self.redirect_uri.clone());
        Arc::new(Endpoints::new(metadata, client))
    }

    /// Discovery and the keys, cached (see [`cache`]): discovery for a day, the keys as long as
    /// the provider allows (see [`DEFAULT_JWKS_LIFETIME`]).
    async fn metadata(&self) -> Result<Arc<Endpoints>, ProviderError> {
        loop {
            let (stale, claim) = match self.discovered.lookup(Instant::now()) {
                Lookup::Ready(endpoints) => return Ok(endpoints),
                Lookup::Failed(message) => return Err(self.discovery_failed(&message)),
                Lookup::Wait(refreshed) => {
                    refreshed.await;
                    continue;
                }
                Lookup::Refresh { stale, claim } => (stale, claim),
            };
            let started = Instant::now();
            let fetched = match stale {
                // Only the keys are due.
                Some(stale) if started < stale.discovery_due => {
                    let fetched = self.fetch_jwks(&stale.value).await;
                    fetched.map(|(jwks, lifetime)| self.with_keys(stale, jwks, lifetime, started))
                }
                _ => self.discover().await.map(|(metadata, lifetime)| Copy {
                    value: self.endpoints(metadata),
                    discovery_due: started + METADATA_LIFETIME,
                    keys_due: started + lifetime,
                    keys_fetched_at: started,
                }),
            };
            return match fetched {
                Ok(copy) => Ok(claim.store(copy)),
                Err(message) => claim.fail(Instant::now(), message.clone()).map_err(|message| {
                    self.discovery_failed(&message)
                }).inspect(|_| {
                    tracing::warn!(provider = %self.config.id, error = %message, "could not refresh the provider's discovery or keys; using the last good copy a little longer");
                }),
            };
        }
    }

    fn discovery_failed(&self, message: &str) -> ProviderError {
        ProviderError::Unavailable(format!("discovery at {} failed: {message}", self.issuer()))
    }

    /// The provider's keys from its `jwks_uri`, and how long they may be kept.
    async fn fetch_jwks(&self, metadata: &Metadata) -> Result<(CoreJsonWebKeySet, Duration), String> {
        let url = metadata.jwks_uri().url().as_str();
        let response = self
            .http
            .send(self.http.client().get(url).header(reqwest::header::ACCEPT, "application/json"))
            .await
            .map_err(|e| format!("fetching the provider's keys failed: {}", error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!(
                "fetching the provider's keys failed: HTTP status code {} at {url}",
                response.status()
            ));
        }
        let max_age =
            response.headers().get(reqwest::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).and_then(max_age);
        let body = read_body(response)
            .await
            .map_err(|e| format!("fetching the provider's keys failed: {}", error_chain(&e)))?;
        let jwks =
            serde_json::from_slice(&body).map_err(|e| format!("the provider's keys at {url} are not valid: {e}"))?;
        let lifetime = max_age.unwrap_or(DEFAULT_JWKS_LIFETIME).clamp(self.jwks_refetch_interval, METADATA_LIFETIME);
        Ok((jwks, lifetime))
    }

    /// Reads `{issuer}/.well-known/openid-configuration`, checks its `issuer` by the kind's
    /// rules (exactly the configured issuer; Microsoft: see [`microsoft::tenancy`]) and loads
    /// the keys from its `jwks_uri`.
    async fn discover(&self) -> Result<(Metadata, Duration), String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let response = self
            .http
            .send(self.http.client().get(&url).header(reqwest::header::ACCEPT, "application/json"))
            .await
            .map_err(|e| error_chain(&e))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("HTTP status code {} at {url}", response.status()));
        }
        let body = read_body(response).await.map_err(|error| format!("{url}: {}", error_chain(&error)))?;
        let metadata: Metadata =
            serde_json::from_slice(&body).map_err(|e| format!("the document at {url} is not valid: {e}"))?;
        let discovered_issuer = metadata.issuer().as_str();
        match self.flavor() {
            Flavor::Generic | Flavor::Google(_) => {
                if !is_configured_issuer(discovered_issuer, self.issuer()) {
                    return Err(format!("unexpected issuer URI `{discovered_issuer}` (expected `{}`)", self.issuer()));
                }
            }
            Flavor::Microsoft(settings) => {
                microsoft::tenancy(settings, discovered_issuer)?;
            }
        }
        insecure_endpoint(&metadata).map_or(Ok(()), |endpoint| {
            Err(format!("the provider names an endpoint without https: {endpoint} (only loopback may use http)"))
        })?;
        let (jwks, lifetime) = self.fetch_jwks(&metadata).await?;
        Ok((metadata.set_jwks(jwks), lifetime))
    }

    /// Fetches the JWKS again unless that happened within the refetch interval (or, while
    /// another refresh runs, waits for that one). Returns whether the keys may have changed.
    async fn refresh_jwks(&self) -> Result<bool, ProviderError> {
        let (current, claim) = match self.discovered.claim_keys(Instant::now(), self.jwks_refetch_interval) {
            KeyRefresh::TooSoon => return Ok(false),
            KeyRefresh::Wait(refreshed) => {
                refreshed.await;
                return Ok(true);
            }
            KeyRefresh::Go(current, claim) => (current, claim),
        };
        let started = Instant::now();
        match self.fetch_jwks(&current.value).await {
            Ok((jwks, lifetime)) => {
                tracing::info!(provider = %self.config.id, keys = jwks.keys().len(), "refetched the provider's signing keys");
                claim.store(self.with_keys(current, jwks, lifetime, started));
                Ok(true)
            }
            Err(message) => {
                let _last_good = claim.fail(Instant::now(), message.clone());
                Err(ProviderError::Unavailable(message))
            }
        }
    }
}

/// Discovery's `issuer` must be the configured one. URL parsing cannot tell `https://x` from
/// `https://x/` (Auth0's issuers end in `/`), so only that one trailing slash may differ;
/// every later `iss` check then uses the discovered spelling exactly.
/// The first endpoint in a discovery document that is neither https nor loopback (tokens and
/// the client secret travel to these, so plain http on a network is refused, as for issuers).
fn insecure_endpoint(metadata: &Metadata) -> Option<String> {
    let endpoints = [
        Some(metadata.authorization_endpoint().url().as_str()),
        metadata.token_endpoint().map(|e| e.url().as_str()),
        metadata.userinfo_endpoint().map(|e| e.url().as_str()),
        Some(metadata.jwks_uri().url().as_str()),
    ];
    endpoints.into_iter().flatten().find_map(|endpoint| {
        let url = url::Url::parse(endpoint).ok()?;
        (url.scheme() != "https" && !crate::config::is_loopback(&url)).then(|| endpoint.to_string())
    })
}

/// `max-age` of a `Cache-Control` header, unless the answer may not be stored at all.
fn max_age(cache_control: &str) -> Option<Duration> {
    let directives: Vec<&str> = cache_control.split(',').map(str::trim).collect();
    if directives.iter().any(|d| d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache")) {
        return Some(Duration::ZERO);
    }
    directives
        .iter()
        .find_map(|directive| {
            let (name, seconds) = directive.split_once('=')?;
            name.trim().eq_ignore_ascii_case("max-age").then(|| seconds.trim().trim_matches('"').parse().ok()).flatten()
        })
        .map(Duration::from_secs)
}

fn is_configured_issuer(discovered: &str, configured: &str) -> bool {
    discovered == configured || discovered.strip_suffix('/') == Some(configured)
}

fn parse_id_token(id_token: &str) -> Result<IdToken, ClaimsVerificationError> {
    IdToken::from_str(id_token).map_err(|e| ClaimsVerificationError::Other(format!("it cannot be read ({e})")))
}

/// A userinfo answer that did not pass: about someone else, refused access (the grant is
/// gone), or no answer at all.
fn userinfo_error<RE: std::error::Error + 'static>(error: openidconnect::UserInfoError<RE>) -> ProviderError {
    match error {
        openidconnect::UserInfoError::ClaimsVerification(e) => {
            ProviderError::InvalidUserInfo(describe_claims_error(&e))
        }
        openidconnect::UserInfoError::Request(e) => {
            ProviderError::Unavailable(format!("userinfo endpoint: {}", error_chain(&e)))
        }
        openidconnect::UserInfoError::Response(status, _, _) if status.as_u16() == 401 => {
            ProviderError::CodeRejected("the provider no longer accepts the access token".into())
        }
        other => ProviderError::InvalidUserInfo(other.to_string()),
    }
}

/// How the `iat` check words its refusals (openidconnect reports them as `Expired`).
const ISSUED_IN_FUTURE: &str = "it claims to be issued in the future";
const ISSUED_TOO_LONG_AGO: &str = "it was issued too long ago";

/// Which rule openidconnect found broken.
fn broken_rule(error: &ClaimsVerificationError) -> IdTokenRule {
    match error {
        ClaimsVerificationError::SignatureVerification(_) | ClaimsVerificationError::Unsupported(_) => {
            IdTokenRule::Signature
        }
        ClaimsVerificationError::InvalidIssuer(_) => IdTokenRule::Issuer,
        ClaimsVerificationError::InvalidAudience(_) => IdTokenRule::Audience,
        ClaimsVerificationError::Expired(why) if why.starts_with(ISSUED_IN_FUTURE) => IdTokenRule::IssuedInFuture,
        ClaimsVerificationError::Expired(why) if why.starts_with(ISSUED_TOO_LONG_AGO) => IdTokenRule::IssuedTooLongAgo,
        ClaimsVerificationError::Expired(_) => IdTokenRule::Expiry,
        ClaimsVerificationError::InvalidNonce(_) => IdTokenRule::Nonce,
        _ => IdTokenRule::Claims,
    }
}

fn describe_claims_error(error: &ClaimsVerificationError) -> String {
    match error {
        ClaimsVerificationError::SignatureVerification(inner) => format!("bad signature ({inner})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_issuer_must_be_the_configured_one_up_to_a_trailing_slash() {
        assert!(is_configured_issuer("https://tenant.auth0.com/", "https://tenant.auth0.com"));
        assert!(is_configured_issuer("https://sso.example.com/realms/x", "https://sso.example.com/realms/x"));
        assert!(!is_configured_issuer("https://sso.example.com/realms/y", "https://sso.example.com/realms/x"));
        assert!(!is_configured_issuer("https://evil.example.com", "https://sso.example.com"));
        assert!(!is_configured_issuer("https://sso.example.com//", "https://sso.example.com"));
    }

    #[test]
    fn debug_output_of_a_token_response_never_shows_a_token() {
        let response: RawTokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "the-access-token",
            "refresh_token": "the-refresh-token",
            "id_token": "the.id.token",
            "token_type": "Bearer",
        }))
        .expect("a token response");
        let shown = format!("{response:?}");
        for secret in ["the-access-token", "the-refresh-token", "the.id.token"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn the_key_set_is_kept_as_long_as_cache_control_allows() {
        assert_eq!(max_age("public, max-age=19998, must-revalidate"), Some(Duration::from_secs(19998)));
        assert_eq!(max_age("Max-Age=60"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO), "then only the refetch interval limits fetches");
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
