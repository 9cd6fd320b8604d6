//! GitHub: OAuth 2.0 (authorization code with `state` and PKCE S256), then GitHub's REST API
//! for who signed in. There is no ID token, so no nonce; the identity is GitHub's numeric user
//! id — never the `login`, which users can change and others can then take.

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;
use url::Url;

use super::http::{BodyError, ProviderHttp, read_body};
use super::{AuthorizationRequest, ProviderError, VerifiedIdentity, error_chain};
use crate::config::{GitHubSettings, ProviderConfig};

/// The REST API version the answers are read as.
const API_VERSION: &str = "2022-11-28";

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct GitHubProvider {
    config: ProviderConfig,
    settings: GitHubSettings,
    redirect_uri: RedirectUrl,
    http: ProviderHttp,
}

impl GitHubProvider {
    pub fn new(config: ProviderConfig, settings: GitHubSettings, redirect_uri: Url, http: ProviderHttp) -> Self {
        GitHubProvider { config, settings, redirect_uri: RedirectUrl::from_url(redirect_uri), http }
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    pub fn settings(&self) -> &GitHubSettings {
        &self.settings
    }

    /// The issuer identities are recorded under: `https://github.com`, or the API URL when it
    /// is overridden (GitHub Enterprise Server, a test server).
    pub fn issuer(&self) -> &str {
        self.config.issuer.as_str().trim_end_matches('/')
    }

    /// PKCE S256 and a fresh `state`. The nonce is stored like any other but never used: GitHub
    /// issues no ID token.
    pub async fn authorization_request(&self) -> Result<AuthorizationRequest, ProviderError> {
        let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request =
            client.authorize_url(|| CsrfToken::new(crate::util::random_token())).set_pkce_challenge(pkce_challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url,
            state: state.secret().clone(),
            nonce: crate::util::random_token(),
            pkce_verifier: pkce_verifier.secret().clone(),
        })
    }

    /// GitHub does not send RFC 9207's `iss` parameter; one that names someone else is a mix-up.
    pub fn check_iss_parameter(&self, iss: Option<&str>) -> Result<(), ProviderError> {
        match iss {
            None => Ok(()),
            Some(iss) if iss.trim_end_matches('/') == self.issuer() => Ok(()),
            Some(iss) => Err(ProviderError::InvalidResponse(format!(
                "the response says it comes from `{iss}`, not from `{}`",
                self.issuer()
            ))),
        }
    }

    /// Exchanges the code (client_secret_basic, PKCE verifier, JSON asked for), then reads
    /// `/user` and, with the `user:email` scope, `/user/emails`.
    pub async fn complete(&self, code: &str, pkce_verifier: &str) -> Result<VerifiedIdentity, ProviderError> {
        let token = self
            .client()
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // GitHub answers a refused code with 200 and an error body.
                RequestTokenError::Parse(e, body) => match serde_json::from_slice::<BasicErrorResponse>(&body) {
                    Ok(response) => ProviderError::CodeRejected(response.to_string()),
                    Err(_) => ProviderError::InvalidResponse(format!("token response: {e}")),
                },
                other => super::token_endpoint_error(other),
            })?;
        if *token.token_type() != BasicTokenType::Bearer {
            return Err(ProviderError::InvalidResponse(format!(
                "the token endpoint issued a `{}` token, not a bearer token",
                token.token_type().as_ref()
            )));
        }
        let access_token = token.access_token().secret();

        // The two reads do not depend on each other: one round trip's wait, not two.
        let emails =
            async { if self.may_read_emails() { self.api_get("/user/emails", access_token).await } else { Ok(None) } };
        let (user, emails) = tokio::join!(self.api_get("/user", access_token), emails);
        let user = user?
            .ok_or_else(|| ProviderError::InvalidResponse("GitHub's /user did not answer for this token".into()))?;
        let id = user
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
            .ok_or_else(|| ProviderError::InvalidResponse("GitHub's /user answer has no numeric `id`".into()))?;
        let text = |value: &Value, field: &str| {
            value.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
        };
        let public_email = text(&user, "email");
        let (email, email_verified) = match emails? {
            Some(emails) => {
                primary_email(&emails)?.map_or((public_email, false), |(email, verified)| (Some(email), verified))
            }
            // Without `user:email` (or, for a GitHub App, the email permission) only the public
            // address is known, and not whether it is verified.
            None => (public_email, false),
        };
        Ok(VerifiedIdentity {
            issuer: self.issuer().to_string(),
            subject: id.to_string(),
            name: text(&user, "name").or_else(|| text(&user, "login")),
            email,
            email_verified,
            picture: text(&user, "avatar_url"),
            tokens: super::ProviderTokens::from_response(&token, &self.config.scopes),
            provider_session: Default::default(),
        })
    }

    /// Deletes the app's grant for this user ("Revoke access" in GitHub's settings).
    pub async fn revoke(&self, access_token: &str) -> Result<(), ProviderError> {
        let response = self
            .http
            .send(
                self.http
                    .client()
                    .delete(self.settings.api(&format!("/applications/{}/grant", self.config.client_id)))
                    .basic_auth(&self.config.client_id, Some(self.config.client_secret.expose()))
                    .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                    .json(&serde_json::json!({ "access_token": access_token })),
            )
            .await
            .map_err(|e| ProviderError::Unavailable(format!("GitHub grant deletion: {}", error_chain(&e))))?;
        match response.status().as_u16() {
            204 | 404 => Ok(()),
            status => Err(ProviderError::InvalidResponse(format!("GitHub grant deletion answered HTTP {status}"))),
        }
    }

    /// `/user`'s name and avatar, with a stored access token.
    pub async fn fetch_profile(
        &self,
        access_token: &str,
        subject: Option<&str>,
    ) -> Result<super::ProfileClaims, ProviderError> {
        let user = self
            .api_get("/user", access_token)
            .await?
            .ok_or_else(|| ProviderError::CodeRejected("GitHub no longer accepts the access token".into()))?;
        let id = user.get("id").and_then(Value::as_u64).map(|id| id.to_string());
        if subject.is_some() && id.as_deref() != subject {
            return Err(ProviderError::InvalidUserInfo("GitHub answered for another user".into()));
        }
        let text = |field: &str| {
            user.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
        };
        Ok(super::ProfileClaims { name: text("name").or_else(|| text("login")), picture: text("avatar_url") })
    }

    /// A new access token for a refresh token (GitHub Apps with expiring tokens).
    pub async fn refresh(&self, refresh_token: &str) -> Result<super::ProviderTokens, ProviderError> {
        let response = self
            .client()
            .exchange_refresh_token(&oauth2::RefreshToken::new(refresh_token.to_string()))
            .request_async(&self.http)
            .await
            .map_err(super::token_endpoint_error)?;
        Ok(super::ProviderTokens::from_response(&response, &self.config.scopes))
    }

    fn client(&self) -> Client {
        BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.expose().to_string()))
            .set_auth_uri(AuthUrl::from_url(self.settings.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(self.settings.token_url.clone()))
            .set_redirect_uri(self.redirect_uri.clone())
    }

    /// `/user/emails` needs the `user:email` (or `user`) scope.
    fn may_read_emails(&self) -> bool {
        self.config.scopes.iter().any(|scope| scope == "user:email" || scope == "user")
    }

    /// `GET {API_URL}{path}` with the access token: the JSON answer, `None` when the token may
    /// not read it (403, 404: a missing scope or permission), or a [`ProviderError`].
    async fn api_get(&self, path: &str, access_token: &str) -> Result<Option<Value>, ProviderError> {
        let response = self
            .http
            .send(
                self.http
                    .client()
                    .get(self.settings.api(path))
                    .bearer_auth(access_token)
                    .header(reqwest::header::ACCEPT, "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", API_VERSION),
            )
            .await
            .map_err(|e| ProviderError::Unavailable(format!("GitHub's {path}: {}", error_chain(&e))))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderError::Unavailable(format!("GitHub's {path} answered {status}")));
        }
        if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::NOT_FOUND {
            tracing::warn!(provider = %self.config.id, %status, "GitHub's {path} is not readable with this token (missing scope or permission?)");
            return Ok(None);
        }
        if !status.is_success() {
            return Err(ProviderError::InvalidResponse(format!("GitHub's {path} answered {status}")));
        }
        let body = read_body(response).await.map_err(|error| match error {
            BodyError::Network(e) => ProviderError::Unavailable(format!("GitHub's {path}: {}", error_chain(&e))),
            too_large => ProviderError::InvalidResponse(format!("GitHub's {path}: {too_large}")),
        })?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| ProviderError::InvalidResponse(format!("GitHub's {path} answer is not JSON: {e}")))
    }
}

/// The primary address of a `/user/emails` answer and whether GitHub verified it. Only the
/// primary address is used: it is the one GitHub mails, and the one a person chose.
fn primary_email(emails: &Value) -> Result<Option<(String, bool)>, ProviderError> {
    let invalid = || ProviderError::InvalidResponse("GitHub's /user/emails answer is not a list of addresses".into());
    let entries = emails.as_array().ok_or_else(invalid)?;
    for entry in entries {
        let email = entry.get("email").and_then(Value::as_str).ok_or_else(invalid)?;
        if entry.get("primary").and_then(Value::as_bool) == Some(true) {
            let verified = entry.get("verified").and_then(Value::as_bool) == Some(true);
            return Ok(Some((email.to_string(), verified)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_primary_address_counts_and_only_verified_if_github_says_so() {
        let emails = json!([
            {"email": "other@example.test", "primary": false, "verified": true},
            {"email": "main@example.test", "primary": true, "verified": false},
        ]);
        assert_eq!(primary_email(&emails).unwrap(), Some(("main@example.test".to_string(), false)));
        let verified = json!([{"email": "main@example.test", "primary": true, "verified": true}]);
        assert_eq!(primary_email(&verified).unwrap(), Some(("main@example.test".to_string(), true)));
        assert_eq!(primary_email(&json!([])).unwrap(), None);
        assert!(primary_email(&json!({"message": "Not Found"})).is_err());
        assert!(primary_email(&json!([{"primary": true}])).is_err());
    }
}
