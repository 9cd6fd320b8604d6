//! The sign-in flow: start (send the browser to the provider) and callback (check
//! everything that comes back, provision the user, issue a session).
//!
//! A pending login is stored server-side, keyed by the hash of `state`, bound to the
//! browser by a separate random cookie, valid for ten minutes and consumed exactly once.

mod return_to;

use chrono::{TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use url::Url;

pub use return_to::safe_return_to;

use crate::account::{self, ProvisionError};
use crate::provider::{ProviderError, Providers};
use crate::session::{ClientInfo, Sessions};
use crate::storage::entities::{pending_login, session};
use crate::util::{random_token, sha256_hex};

/// How long a person may take at the provider.
pub const PENDING_LOGIN_LIFETIME: TimeDelta = TimeDelta::minutes(10);

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("there is no sign-in provider called `{0}`")]
    UnknownProvider(String),
    #[error("the provider reported `{error}`")]
    ProviderDenied { error: String, description: Option<String> },
    #[error("the callback has no `state`")]
    MissingState,
    #[error("no pending sign-in matches this callback (unknown, already used or expired)")]
    NoPendingLogin,
    #[error("this sign-in was started in another browser")]
    OtherBrowser,
    #[error("the pending sign-in expired")]
    Expired,
    #[error("the callback came back to the wrong provider")]
    ProviderMismatch,
    #[error("the callback has no authorization code")]
    MissingCode,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("storage failed: {0}")]
    Database(#[from] DbErr),
}

/// Where to send the browser, and the browser-binding cookie value to set if it is new.
pub struct LoginStart {
    pub redirect_to: Url,
    pub new_browser_token: Option<String>,
}

/// The query of `GET /auth/{id}/callback`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A completed sign-in: the new session's token (for the cookie) and where to go next.
pub struct SignedIn {
    pub session_token: String,
    pub return_to: String,
    pub user_id: String,
    pub created_user: bool,
}

#[derive(Clone)]
pub struct LoginFlow {
    db: DatabaseConnection,
    providers: Providers,
    sessions: Sessions,
}

impl LoginFlow {
    pub fn new(db: DatabaseConnection, providers: Providers, sessions: Sessions) -> Self {
        LoginFlow { db, providers, sessions }
    }

    pub async fn start(
        &self,
        provider_id: &str,
        return_to: Option<&str>,
        browser_token: Option<&str>,
    ) -> Result<LoginStart, LoginError> {
        let provider = self
            .providers
            .get(provider_id)
            .ok_or_else(|| LoginError::UnknownProvider(provider_id.to_string()))?;
        let (browser_token, new_browser_token) = match browser_token.filter(|t| is_well_formed_token(t)) {
            Some(token) => (token.to_string(), None),
            None => {
                let token = random_token();
                (token.clone(), Some(token))
            }
        };
        let request = provider.authorization_request().await?;
        let now = Utc::now();
        // Old attempts are useless; clearing them here keeps the table small without a job.
        pending_login::Entity::delete_many()
            .filter(pending_login::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        pending_login::ActiveModel {
            state_hash: Set(sha256_hex(&request.state)),
            browser_hash: Set(sha256_hex(&browser_token)),
            provider_id: Set(provider_id.to_string()),
            pkce_verifier: Set(request.pkce_verifier),
            nonce: Set(request.nonce),
            return_to: Set(safe_return_to(return_to)),
            created_at: Set(now),
            expires_at: Set(now + PENDING_LOGIN_LIFETIME),
        }
        .insert(&self.db)
        .await?;
        Ok(LoginStart { redirect_to: request.url, new_browser_token })
    }

    pub async fn callback(
        &self,
        provider_id: &str,
        params: &CallbackParams,
        browser_token: Option<&str>,
        previous_session_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SignedIn, LoginError> {
        let provider = self
            .providers
            .get(provider_id)
            .ok_or_else(|| LoginError::UnknownProvider(provider_id.to_string()))?;
        let pending = self.consume_pending_login(params.state.as_deref(), browser_token).await;
        if let Some(error) = &params.error {
            // The provider said no; whatever happened to the pending login, that is the news.
            return Err(LoginError::ProviderDenied {
                error: error.clone(),
                description: params.error_description.clone(),
            });
        }
        let pending = pending?;
        if pending.expires_at <= Utc::now() {
            return Err(LoginError::Expired);
        }
        if pending.provider_id != provider_id {
            return Err(LoginError::ProviderMismatch);
        }
        provider.check_iss_parameter(params.iss.as_deref()).await?;
        let code = params.code.as_deref().filter(|c| !c.is_empty()).ok_or(LoginError::MissingCode)?;
        let verified = provider.complete(code, &pending.pkce_verifier, &pending.nonce).await?;

        // Provisioning and the session land together or not at all. A concurrent first
        // sign-in of the same identity loses the unique-key race once, then finds the user.
        for attempt in 0..2 {
            let txn = self.db.begin().await?;
            let provisioned = match account::provision(&txn, provider_id, &verified).await {
                Ok(provisioned) => provisioned,
                Err(ProvisionError::Conflict) if attempt == 0 => {
                    txn.rollback().await?;
                    continue;
                }
                Err(ProvisionError::Conflict) => return Err(LoginError::Database(DbErr::Custom("identity conflict".into()))),
                Err(ProvisionError::Database(e)) => return Err(e.into()),
            };
            if let Some(previous) = previous_session_token {
                // Never keep a session that existed before authentication (fixation).
                session::Entity::delete_many()
                    .filter(session::Column::TokenHash.eq(sha256_hex(previous)))
                    .exec(&txn)
                    .await?;
            }
            let issued = self
                .sessions
                .issue(&txn, &provisioned.user.id, Some(&provisioned.identity.id), client)
                .await?;
            txn.commit().await?;
            tracing::info!(
                provider = provider_id,
                user = %provisioned.user.id,
                new_user = provisioned.created_user,
                "signed in"
            );
            return Ok(SignedIn {
                session_token: issued.token,
                return_to: pending.return_to,
                user_id: provisioned.user.id,
                created_user: provisioned.created_user,
            });
        }
        Err(LoginError::Database(DbErr::Custom("identity conflict".into())))
    }

    /// Takes the pending login for `state` if it belongs to this browser; at most one
    /// caller ever gets it.
    async fn consume_pending_login(
        &self,
        state: Option<&str>,
        browser_token: Option<&str>,
    ) -> Result<pending_login::Model, LoginError> {
        let state = state.filter(|s| !s.is_empty()).ok_or(LoginError::MissingState)?;
        let state_hash = sha256_hex(state);
        let pending = pending_login::Entity::find_by_id(state_hash.clone())
            .one(&self.db)
            .await?
            .ok_or(LoginError::NoPendingLogin)?;
        let browser_hash = browser_token.map(sha256_hex).unwrap_or_default();
        if browser_hash != pending.browser_hash {
            return Err(LoginError::OtherBrowser);
        }
        let deleted = pending_login::Entity::delete_many()
            .filter(pending_login::Column::StateHash.eq(state_hash))
            .filter(pending_login::Column::BrowserHash.eq(browser_hash))
            .exec(&self.db)
            .await?;
        if deleted.rows_affected != 1 {
            return Err(LoginError::NoPendingLogin);
        }
        Ok(pending)
    }
}

fn is_well_formed_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
