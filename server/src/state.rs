use std::sync::Arc;

use axum_extra::extract::CookieJar;

use crate::login::LoginFlow;
use crate::provider::{self, Providers};
use crate::session::Sessions;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::account::ProvisionError;
use crate::activity::{self, ActivityKind};
use crate::provider::VerifiedIdentity;
use crate::session::ClientInfo;
use crate::storage::entities::{pending_link, session};
use crate::storage::{Database, retry};
use crate::tokens::{RefreshLocks, TokenCipher, TokenError};
use crate::util::sha256_hex;
use crate::{AppError, Config, account, http};
use latchkey_types::{
    ActivityEvent, ActivityPage, DisplayName, Identity, IdentityId, Me, PendingLinkInfo, ProviderId, ProviderKind,
    ProviderSummary, SavedProfile, SessionId, SessionInfo, TokenStatus, UserId,
};

/// The one handle to latchkey's core; cheap to clone.
#[derive(Clone)]
pub struct Latchkey {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    db: Database,
    providers: Providers,
    sessions: Sessions,
    login_flow: LoginFlow,
    cipher: Arc<TokenCipher>,
    refresh_locks: RefreshLocks,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error(
        "LATCHKEY_DEV_IDP asks for the development provider, but this binary was built without it (see the README's development command)"
    )]
    DevIdpNotBuilt,
}

impl Latchkey {
    /// Connects the database (migrating it) and sets up the configured providers. Providers
    /// are discovered lazily, so start-up never waits on them.
    pub async fn start(config: Config) -> Result<Self, StartupError> {
        let db = Database::connect(&config.database_url).await?;
        let http = provider::http_client(config.provider_timeout)?;
        let providers = Providers::from_config(&config, http, config.jwks_refetch_interval);
        let sessions = Sessions::new(db.clone(), config.sessions);
        let cipher = Arc::new(TokenCipher::new(&config.secret_key, &[]));
        let login_flow = LoginFlow::new(db.clone(), providers.clone(), sessions.clone(), cipher.clone());
        Ok(Latchkey {
            inner: Arc::new(Inner {
                config,
                db,
                providers,
                sessions,
                login_flow,
                cipher,
                refresh_locks: RefreshLocks::default(),
            }),
        })
    }

    /// `/auth/*`, the `/account/*` form posts and `/api/me`.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Seals and opens the providers' tokens at rest.
    pub fn token_cipher(&self) -> &TokenCipher {
        &self.inner.cipher
    }

    /// A valid access token for one of latchkey's stored identities, refreshed at the provider
    /// when expired (one refresh at a time per identity, across instances). Server-side only.
    pub async fn provider_access_token(&self, identity_id: &str) -> Result<String, TokenError> {
        let identity = crate::storage::entities::identity::Entity::find_by_id(identity_id.to_string())
            .one(self.db().reads())
            .await?
            .ok_or(TokenError::NoTokens)?;
        let provider = self.inner.providers.get(&identity.provider_id).ok_or(TokenError::NoTokens)?;
        crate::tokens::valid_access_token(
            self.db(),
            &self.inner.cipher,
            &self.inner.refresh_locks,
            provider,
            identity_id,
        )
        .await
    }

    pub fn login_flow(&self) -> &LoginFlow {
        &self.inner.login_flow
    }

    /// Providers people can sign in with, in configuration order.
    pub fn providers(&self) -> Vec<ProviderSummary> {
        self.inner.providers.summaries()
    }

    /// The user behind this browser's session, if any.
    pub async fn signed_in_user(&self, cookies: &CookieJar) -> Result<Option<account::User>, AppError> {
        Ok(self.signed_in(cookies).await?.map(|(_, user)| user))
    }

    async fn signed_in(&self, cookies: &CookieJar) -> Result<Option<(session::Model, account::User)>, AppError> {
        let Some(token) = http::session_token(self.config(), cookies) else { return Ok(None) };
        Ok(self.inner.sessions.authenticate(&token).await?)
    }

    async fn require_signed_in(&self, cookies: &CookieJar) -> Result<(session::Model, account::User), AppError> {
        self.signed_in(cookies).await?.ok_or(AppError::Unauthenticated)
    }

    /// Sensitive changes need a sign-in within the last ten minutes.
    async fn require_recent_sign_in(&self, cookies: &CookieJar) -> Result<(session::Model, account::User), AppError> {
        let (session, user) = self.require_signed_in(cookies).await?;
        if is_recent(&session) { Ok((session, user)) } else { Err(AppError::ReauthenticationRequired) }
    }

    /// The button label of a configured provider (its id if it is no longer configured).
    pub(crate) fn provider_name(&self, provider_id: &str) -> String {
        self.inner.providers.get(provider_id).map(|p| p.name().to_string()).unwrap_or_else(|| provider_id.to_string())
    }

    /// The signed-in person for this browser's session cookie, if any.
    pub async fn current_user(&self, cookies: &CookieJar) -> Result<Option<Me>, AppError> {
        let Some((session, user)) = self.signed_in(cookies).await? else { return Ok(None) };
        let identities = account::identities_of(self.db().reads(), &user.id).await?;
        let token_rows = crate::storage::entities::provider_token::Entity::find()
            .filter(
                crate::storage::entities::provider_token::Column::IdentityId
                    .is_in(identities.iter().map(|i| i.id.clone())),
            )
            .all(self.db().reads())
            .await?;
        let now = chrono::Utc::now();
        let identities = identities
            .iter()
            .map(|identity| {
                let tokens = token_rows.iter().find(|row| row.identity_id == identity.id);
                Identity {
                    id: IdentityId::new(&identity.id),
                    provider: ProviderId::new(&identity.provider_id),
                    provider_name: self.provider_name(&identity.provider_id),
                    issuer: identity.issuer.clone(),
                    subject: identity.subject.clone(),
                    name: identity.name.clone(),
                    email: identity.email.clone(),
                    email_verified: identity.email_verified,
                    picture: identity.picture.clone(),
                    linked_at: identity.created_at,
                    last_used_at: identity.last_used_at,
                    token_status: tokens.map(|row| match row.status {
                        TokenStatus::Ok if row.expires_at.is_some_and(|at| at <= now) => TokenStatus::Expired,
                        status => status,
                    }),
                    token_scopes: tokens
                        .map(|row| row.scopes.split_whitespace().map(str::to_string).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        Ok(Some(Me {
            id: UserId::new(user.id),
            name: user.display_name,
            email: user.email,
            picture: user.picture,
            identities,
            signed_in_with: session.identity_id.clone().map(IdentityId::new),
            recently_signed_in: is_recent(&session),
        }))
    }

    /// Changes the display name of the signed-in person; returns the name as stored.
    pub async fn update_display_name(&self, cookies: &CookieJar, name: &str) -> Result<String, AppError> {
        let (_, user) = self.require_signed_in(cookies).await?;
        let name = DisplayName::parse(name).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let (user, name) = (&user, &name);
        let user = retry(|| async move {
            let txn = self.db().begin().await?;
            let user = account::rename(&txn, user.clone(), name.clone()).await?;
            self.record_activity(
                &txn,
                &user.id,
                ActivityKind::ProfileUpdated,
                None,
                Some("display name changed".into()),
                None,
            )
            .await?;
            txn.commit().await?;
            Ok::<_, AppError>(user)
        })
        .await?;
        Ok(user.display_name)
    }

    /// Chooses the primary email (one of the verified emails of linked identities) and the
    /// picture (one of the linked identities' pictures, or none).
    pub async fn update_profile(
        &self,
        cookies: &CookieJar,
        primary_email: Option<&str>,
        picture_from_identity: Option<&str>,
    ) -> Result<SavedProfile, AppError> {
        let (_, user) = self.require_signed_in(cookies).await?;
        let identities = account::identities_of(self.db().reads(), &user.id).await?;
        let email = match primary_email.filter(|e| !e.is_empty()) {
            None => None,
            Some(email) => Some(
                identities
                    .iter()
                    .filter(|i| i.email_verified)
                    .filter_map(|i| i.email.clone())
                    .find(|e| e.eq_ignore_ascii_case(email))
                    .ok_or_else(|| {
                        AppError::InvalidInput("Choose one of the verified emails of your linked accounts.".into())
                    })?,
            ),
        };
        let picture = match picture_from_identity.filter(|p| !p.is_empty()) {
            None => None,
            Some(identity_id) => {
                Some(identities.iter().find(|i| i.id == identity_id).and_then(|i| i.picture.clone()).ok_or_else(
                    || AppError::InvalidInput("Choose a picture from one of your linked accounts.".into()),
                )?)
            }
        };
        let (user, email, picture) = (&user, &email, &picture);
        let user = retry(|| async move {
            let txn = self.db().begin().await?;
            let user = account::set_email_and_picture(&txn, user.clone(), email.clone(), picture.clone()).await?;
            let detail = Some("primary email or picture changed".into());
            self.record_activity(&txn, &user.id, ActivityKind::ProfileUpdated, None, detail, None).await?;
            txn.commit().await?;
            Ok::<_, AppError>(user)
        })
        .await?;
        Ok(SavedProfile { email: user.email, picture: user.picture })
    }

    /// Ends this browser's session (if any).
    pub async fn sign_out(&self, cookies: &CookieJar) -> Result<(), AppError> {
        if let Some((session, user)) = self.signed_in(cookies).await? {
            let (session, user) = (&session, &user);
            retry(|| async move {
                let txn = self.db().begin().await?;
                session::Entity::delete_by_id(session.id.clone()).exec(&txn).await?;
                self.record_activity(&txn, &user.id, ActivityKind::SignedOut, None, None, None).await?;
                txn.commit().await?;
                Ok::<_, AppError>(())
            })
            .await?;
        }
        Ok(())
    }

    /// The person's sessions, most recently used first.
    pub async fn sessions_of(&self, cookies: &CookieJar) -> Result<Vec<SessionInfo>, AppError> {
        let (current, user) = self.require_signed_in(cookies).await?;
        let identities = account::identities_of(self.db().reads(), &user.id).await?;
        let sessions = session::Entity::find()
            .filter(session::Column::UserId.eq(user.id.clone()))
            .order_by_desc(session::Column::LastSeenAt)
            .all(self.db().reads())
            .await?;
        Ok(sessions
            .into_iter()
            .filter(|s| !self.inner.sessions.is_expired(s, chrono::Utc::now()))
            .map(|s| SessionInfo {
                current: s.id == current.id,
                provider: s
                    .identity_id
                    .as_ref()
                    .and_then(|id| identities.iter().find(|i| &i.id == id))
                    .map(|i| self.provider_name(&i.provider_id)),
                id: SessionId::new(s.id),
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect())
    }

    /// Ends one of the person's sessions (any browser).
    pub async fn revoke_session(
        &self,
        cookies: &CookieJar,
        session_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let (_, user) = self.require_signed_in(cookies).await?;
        let user = &user;
        retry(|| async move {
            let txn = self.db().begin().await?;
            let deleted = session::Entity::delete_many()
                .filter(session::Column::Id.eq(session_id))
                .filter(session::Column::UserId.eq(user.id.clone()))
                .exec(&txn)
                .await?;
            if deleted.rows_affected == 0 {
                return Err(AppError::NotFound);
            }
            self.record_activity(&txn, &user.id, ActivityKind::SessionRevoked, None, None, Some(client)).await?;
            txn.commit().await?;
            Ok(())
        })
        .await
    }

    /// A page (zero-based) of the person's security activity, newest first.
    pub async fn activity(&self, cookies: &CookieJar, page: u64) -> Result<ActivityPage, AppError> {
        const PER_PAGE: u64 = 20;
        // Far beyond any real log; keeps the offset arithmetic in range.
        const LAST_PAGE: u64 = 1_000_000;
        let page = page.min(LAST_PAGE);
        let (_, user) = self.require_signed_in(cookies).await?;
        let (events, pages) = activity::page_of(self.db().reads(), &user.id, page, PER_PAGE).await?;
        Ok(ActivityPage {
            events: events
                .into_iter()
                .map(|e| ActivityEvent {
                    kind: e.kind,
                    provider: e.provider_id.map(|id| self.provider_name(&id)),
                    detail: e.detail,
                    ip: e.ip,
                    user_agent: e.user_agent,
                    at: e.created_at,
                })
                .collect(),
            page,
            pages,
        })
    }

    /// Removes one of the person's identities: never the last one, only after a recent sign-in.
    pub async fn unlink_identity(
        &self,
        cookies: &CookieJar,
        identity_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let (_, user) = self.require_recent_sign_in(cookies).await?;
        let user = &user;
        let (provider_id, held) = retry(|| async move {
            let txn = self.db().begin().await?;
            let identities = account::identities_of(&txn, &user.id).await?;
            let Some(target) = identities.iter().find(|i| i.id == identity_id) else { return Err(AppError::NotFound) };
            if identities.len() <= 1 {
                return Err(AppError::InvalidInput(
                    "This is your only way to sign in, so it cannot be removed. Link another account first.".into(),
                ));
            }
            let held = crate::tokens::held_tokens(&txn, &self.inner.cipher, &target.id).await.ok().flatten();
            account::unlink(&txn, target).await?;
            let (provider, email) = (Some(target.provider_id.as_str()), target.email.clone());
            self.record_activity(&txn, &user.id, ActivityKind::IdentityUnlinked, provider, email, Some(client)).await?;
            txn.commit().await?;
            Ok((target.provider_id.clone(), held))
        })
        .await?;
        // After the commit: no transaction waits on the provider.
        self.revoke_at_provider(&provider_id, held).await;
        Ok(())
    }

    /// Reads name and picture again from the provider's API with the identity's access token
    /// (refreshing it first if needed) — the provider token put to use.
    pub async fn refresh_profile(
        &self,
        cookies: &CookieJar,
        identity_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let (_, user) = self.require_signed_in(cookies).await?;
        let identity = account::identities_of(self.db().reads(), &user.id)
            .await?
            .into_iter()
            .find(|i| i.id == identity_id)
            .ok_or(AppError::NotFound)?;
        let provider = self.inner.providers.get(&identity.provider_id).ok_or(AppError::NotFound)?;
        let provider_name = self.provider_name(&identity.provider_id);
        let access_token = self.provider_access_token(identity_id).await.map_err(|e| match e {
            TokenError::Database(e) => AppError::Database(e),
            TokenError::NoTokens => {
                AppError::InvalidInput(format!("latchkey holds no access to {provider_name} for this account."))
            }
            TokenError::ReconnectNeeded => AppError::InvalidInput(format!(
                "{provider_name} no longer accepts latchkey's access. Sign in with {provider_name} again to reconnect."
            )),
            other => AppError::InvalidInput(format!("{provider_name} could not be asked right now ({other}).")),
        })?;
        // Microsoft's userinfo `sub` is not the identity's subject (that is the `oid`).
        let subject = (provider.kind() != ProviderKind::Microsoft).then_some(identity.subject.as_str());
        let profile = provider.fetch_profile(&access_token, subject).await.map_err(|e| {
            AppError::InvalidInput(format!("{provider_name} did not answer as expected, so nothing was changed ({e})."))
        })?;
        let (user, identity, profile, provider_name) = (&user, &identity, &profile, &provider_name);
        retry(|| async move {
            let txn = self.db().begin().await?;
            account::set_identity_profile(&txn, identity.clone(), profile.name.clone(), profile.picture.clone())
                .await?;
            self.record_activity(
                &txn,
                &user.id,
                ActivityKind::ProfileUpdated,
                Some(&identity.provider_id),
                Some(format!("profile refreshed from {provider_name}")),
                Some(client),
            )
            .await?;
            txn.commit().await?;
            Ok::<_, AppError>(())
        })
        .await
    }

    /// The identity waiting in this browser to be linked to the signed-in account, if any.
    pub async fn pending_link(&self, cookies: &CookieJar) -> Result<Option<PendingLinkInfo>, AppError> {
        let Some((_, user)) = self.signed_in(cookies).await? else { return Ok(None) };
        let Some(pending) = self.find_pending_link(cookies, &user.id).await? else { return Ok(None) };
        Ok(Some(PendingLinkInfo {
            provider_name: self.provider_name(&pending.provider_id),
            provider: ProviderId::new(pending.provider_id),
            email: pending.email,
            name: pending.name,
        }))
    }

    async fn find_pending_link(
        &self,
        cookies: &CookieJar,
        user_id: &str,
    ) -> Result<Option<pending_link::Model>, AppError> {
        let Some(browser) = http::login_token(self.config(), cookies) else { return Ok(None) };
        Ok(pending_link::Entity::find()
            .filter(pending_link::Column::BrowserHash.eq(sha256_hex(&browser)))
            .filter(pending_link::Column::ExistingUserId.eq(user_id))
            .filter(pending_link::Column::ExpiresAt.gt(chrono::Utc::now()))
            .one(self.db().reads())
            .await?)
    }

    /// Links the identity waiting in this browser to the signed-in account (one click, after
    /// the person proved they own the account by signing in to it).
    pub async fn confirm_pending_link(&self, cookies: &CookieJar, client: &ClientInfo) -> Result<(), AppError> {
        let (_, user) = self.require_signed_in(cookies).await?;
        let pending = self.find_pending_link(cookies, &user.id).await?.ok_or(AppError::NotFound)?;
        let verified = VerifiedIdentity {
            issuer: pending.issuer.clone(),
            subject: pending.subject.clone(),
            name: pending.name.clone(),
            email: pending.email.clone(),
            email_verified: pending.email_verified,
            picture: pending.picture.clone(),
            // Not kept while the link waits; the provider's tokens arrive at its next sign-in.
            tokens: Default::default(),
        };
        let (user, pending, verified) = (&user, &pending, &verified);
        retry(|| async move {
            let txn = self.db().begin().await?;
            let deleted = pending_link::Entity::delete_by_id(pending.token_hash.clone()).exec(&txn).await?;
            if deleted.rows_affected != 1 {
                return Err(AppError::NotFound);
            }
            account::attach_identity(&txn, &user.id, &pending.provider_id, verified).await.map_err(|e| match e {
                ProvisionError::Conflict => AppError::InvalidInput(
                    "That account was linked to another latchkey account in the meantime, so it was not linked.".into(),
                ),
                ProvisionError::Database(e) => AppError::Database(e),
            })?;
            let (provider, email) = (Some(pending.provider_id.as_str()), pending.email.clone());
            self.record_activity(&txn, &user.id, ActivityKind::IdentityLinked, provider, email, Some(client)).await?;
            txn.commit().await?;
            Ok(())
        })
        .await
    }

    /// Forgets the identity waiting in this browser.
    pub async fn dismiss_pending_link(&self, cookies: &CookieJar) -> Result<(), AppError> {
        let (_, user) = self.require_signed_in(cookies).await?;
        if let Some(pending) = self.find_pending_link(cookies, &user.id).await? {
            retry(|| pending_link::Entity::delete_by_id(pending.token_hash.clone()).exec(self.db().writes())).await?;
        }
        Ok(())
    }

    /// Deletes the account: user, identities and sessions go; the activity log's rows stay,
    /// anonymised. Needs a recent sign-in.
    pub async fn delete_account(&self, cookies: &CookieJar, client: &ClientInfo) -> Result<(), AppError> {
        let (_, user) = self.require_recent_sign_in(cookies).await?;
        let user = &user;
        let held = retry(|| async move {
            let txn = self.db().begin().await?;
            let mut held = Vec::new();
            for identity in account::identities_of(&txn, &user.id).await? {
                let tokens = crate::tokens::held_tokens(&txn, &self.inner.cipher, &identity.id).await.ok().flatten();
                held.push((identity.provider_id, tokens));
            }
            account::delete_user(&txn, &user.id).await?;
            let event = activity::Event {
                user_id: None,
                kind: ActivityKind::AccountDeleted,
                provider_id: None,
                detail: None,
                client: Some(client),
            };
            activity::record(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, AppError>(held)
        })
        .await?;
        tracing::info!(user = %user.id, "account deleted");
        for (provider_id, tokens) in held {
            self.revoke_at_provider(&provider_id, tokens).await;
        }
        Ok(())
    }

    /// Tells the provider to forget latchkey's tokens. Best effort: the identity is already
    /// gone here, and a provider that is down must not keep anyone from unlinking.
    async fn revoke_at_provider(&self, provider_id: &str, tokens: Option<(Option<String>, Option<String>)>) {
        let (Some(provider), Some((access, refresh))) = (self.inner.providers.get(provider_id), tokens) else { return };
        if let Err(error) = provider.revoke(access.as_deref(), refresh.as_deref()).await {
            tracing::warn!(provider = provider_id, %error, "could not revoke latchkey's tokens at the provider");
        }
    }

    async fn record_activity(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        user_id: &str,
        kind: ActivityKind,
        provider_id: Option<&str>,
        detail: Option<String>,
        client: Option<&ClientInfo>,
    ) -> Result<(), AppError> {
        activity::record(db, activity::Event { user_id: Some(user_id), kind, provider_id, detail, client }).await?;
        Ok(())
    }
}

/// How recent a sign-in must be for unlinking or deleting the account.
pub const RECENT_SIGN_IN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

fn is_recent(session: &session::Model) -> bool {
    chrono::Utc::now() - session.created_at < RECENT_SIGN_IN
}
