//! The sign-in flow: start (send the browser to the provider) and callback (check
//! everything that comes back, provision the user, issue a session).
//!
//! A pending login is stored server-side, keyed by the hash of `state`, bound to the
//! browser by a separate random cookie, valid for ten minutes and consumed exactly once.

mod return_to;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use sea_orm::sea_query::{Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryTrait, SelectModel, Set,
};
use url::Url;

pub use return_to::safe_return_to;

use crate::account::{self, ProvisionError};
use crate::activity::{self, ActivityKind, Event};
use crate::provider::VerifiedIdentity;
use crate::provider::{ProviderError, Providers};
use crate::session::{ClientInfo, Sessions};
use crate::storage::entities::{SecretText, pending_link, pending_login, session};
use crate::storage::prepared::{self, Batch, SqlText};
use crate::storage::{self, Database, Transient};
use crate::tokens::{self, TokenCipher};
use crate::util::{random_token, sha256_hex};
use latchkey_types::LoginPurpose;

/// How long a person may take at the provider.
pub const PENDING_LOGIN_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// Sign-ins one browser may have under way at once (several tabs); starting another forgets
/// the oldest, so a loop of GETs cannot fill the table.
pub const PENDING_LOGINS_PER_BROWSER: u64 = 8;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    // Text from the request is shown with `Debug` (quoted, control characters escaped), so
    // it cannot forge a log line.
    #[error("there is no sign-in provider called {0:?}")]
    UnknownProvider(String),
    #[error("the provider reported {error:?}")]
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
    #[error("the session that started linking has ended")]
    LinkSessionEnded,
    #[error("this identity belongs to another account")]
    IdentityBelongsToAnotherAccount,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("storage failed: {0}")]
    Database(#[from] DbErr),
}

/// What a trip to the provider is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// Attach the identity to this (signed-in) user.
    Link {
        user_id: String,
    },
}

/// Where to send the browser, and the browser-binding cookie value to (re)set.
pub struct LoginStart {
    pub redirect_to: Url,
    pub browser_token: String,
}

/// How a successful callback ended.
pub enum CallbackOutcome {
    SignedIn(SignedIn),
    /// The new identity's verified email belongs to an existing account: nothing was created;
    /// the identity waits (in this browser) until the person signs in to that account.
    EmailBelongsToExistingAccount {
        email: String,
        provider_ids: Vec<String>,
    },
}

/// The query of `GET /auth/{id}/callback`. Its `Debug` leaves out the code and the state.
#[derive(Clone, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let present = |value: &Option<String>| value.as_ref().map(|_| "..");
        f.debug_struct("CallbackParams")
            .field("code", &present(&self.code))
            .field("state", &present(&self.state))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// A completed sign-in: the new session's token (for the cookie) and where to go next.
pub struct SignedIn {
    pub session_token: String,
    pub return_to: String,
    pub user_id: String,
    pub created_user: bool,
    /// The identity was attached to an existing account (linking).
    pub linked: bool,
}

#[derive(Clone)]
pub struct LoginFlow {
    db: Database,
    providers: Providers,
    sessions: Sessions,
    cipher: Arc<TokenCipher>,
}

impl LoginFlow {
    pub fn new(db: Database, providers: Providers, sessions: Sessions, cipher: Arc<TokenCipher>) -> Self {
        LoginFlow { db, providers, sessions, cipher }
    }

    pub async fn start(
        &self,
        provider_id: &str,
        return_to: Option<&str>,
        browser_token: Option<&str>,
        purpose: Purpose,
    ) -> Result<LoginStart, LoginError> {
        let provider =
            self.providers.get(provider_id).ok_or_else(|| LoginError::UnknownProvider(provider_id.to_string()))?;
        let browser_token = match browser_token.filter(|t| is_well_formed_token(t)) {
            Some(token) => token.to_string(),
            None => random_token(),
        };
        // Discovery (a network call) happens here, before any write.
        let request = provider.authorization_request().await?;
        let now = Utc::now();
        let browser_hash = sha256_hex(&browser_token);
        let state_hash = sha256_hex(&request.state);
        let pending = pending_login::ActiveModel {
            state_hash: Set(state_hash),
            browser_hash: Set(browser_hash.clone()),
            purpose: Set(match &purpose {
                Purpose::SignIn => LoginPurpose::SignIn,
                Purpose::Link { .. } => LoginPurpose::Link,
            }),
            user_id: Set(match purpose {
                Purpose::SignIn => None,
                Purpose::Link { user_id } => Some(user_id),
            }),
            provider_id: Set(provider_id.to_string()),
            pkce_verifier: Set(SecretText(request.pkce_verifier)),
            nonce: Set(SecretText(request.nonce)),
            return_to: Set(safe_return_to(return_to)),
            created_at: Set(now),
            expires_at: Set(now + PENDING_LOGIN_LIFETIME),
        };
        let (pending, browser_hash) = (&pending, &browser_hash);
        // The browser's newest attempts are kept, up to the cap, the new one always; expired
        // ones are the sweeper's. A sign-in's start is one of its three writes: one batch, the
        // trim first (room for the new attempt), so running it again is harmless.
        let newest_others = Query::select()
            .column(pending_login::Column::StateHash)
            .from(pending_login::Entity)
            .and_where(pending_login::Column::BrowserHash.eq(browser_hash))
            .order_by(pending_login::Column::CreatedAt, Order::Desc)
            .limit(PENDING_LOGINS_PER_BROWSER - 1)
            .to_owned();
        let newest_others = &newest_others;
        storage::retry(|| async move {
            let db = self.db.writes();
            let mut writes = Batch::new(db);
            static TRIM: SqlText = SqlText::new();
            let values = vec![browser_hash.into(), browser_hash.into(), (PENDING_LOGINS_PER_BROWSER - 1).into()];
            writes.push(TRIM.statement(writes.backend(), values, || {
                pending_login::Entity::delete_many()
                    .filter(pending_login::Column::BrowserHash.eq(browser_hash))
                    .filter(pending_login::Column::StateHash.not_in_subquery(newest_others.clone()))
            }));
            static INSERT: SqlText = SqlText::new();
            writes.insert(&INSERT, pending.clone())?;
            writes.run(db).await
        })
        .await?;
        Ok(LoginStart { redirect_to: request.url, browser_token })
    }

    pub async fn callback(
        &self,
        provider_id: &str,
        params: &CallbackParams,
        browser_token: Option<&str>,
        previous_session_token: Option<&str>,
        client: &ClientInfo,
    ) -> Result<CallbackOutcome, LoginError> {
        let provider =
            self.providers.get(provider_id).ok_or_else(|| LoginError::UnknownProvider(provider_id.to_string()))?;
        let pending = storage::retry(|| self.consume_pending_login(params.state.as_deref(), browser_token)).await;
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
        let verified = provider.complete(code, &pending.pkce_verifier.0, &pending.nonce.0).await?;

        let context = Completion {
            provider_id,
            trusts_email: provider.trusts_email(),
            verified: &verified,
            pending: &pending,
            browser_token,
            previous_session_token,
            client,
        };
        // A concurrent first sign-in of the same identity loses the unique-key race, then
        // finds the identity the winner created; a busy database refuses a write now and then.
        // Both are settled by running the whole completion again.
        let context = &context;
        storage::retry(|| self.complete(context)).await.map_err(Failure::into_login_error)
    }

    /// Provisioning (or linking), the activity event and the session land together or not at all.
    async fn complete(&self, c: &Completion<'_>) -> Result<CallbackOutcome, Failure> {
        let txn = self.db.begin().await?;
        // What is decided below is written in one batch at the end.
        let mut writes = Batch::new(&txn);
        let verified_email = c.verified.email.as_deref().filter(|_| c.verified.email_verified);
        let account::IdentityAndEmailMatches { identity: existing, same_email } =
            account::identity_and_verified_email_matches(&txn, &c.verified.issuer, &c.verified.subject, verified_email)
                .await?;
        // The session that started a link: the one issued at its end renews it, keeping its
        // sign-in time and absolute expiry (linking is no fresh sign-in).
        let mut renewing = None;
        let (user_id, identity_id, created_user, linked) = match c.pending.purpose {
            LoginPurpose::Link => {
                let linking_user = c.pending.user_id.clone().unwrap_or_default();
                let still_signed_in = match c.previous_session_token {
                    Some(token) => self.sessions.find_live(&txn, token).await?,
                    None => None,
                };
                match still_signed_in {
                    Some((session, user)) if user.id == linking_user => renewing = Some(session),
                    _ => return Err(Failure::Login(LoginError::LinkSessionEnded)),
                }
                match existing {
                    Some((found, owner)) if owner.id == linking_user => {
                        let identity = account::refresh_identity(&txn, found, c.verified).await?;
                        (linking_user, identity.id, false, false)
                    }
                    Some(_) => {
                        // Never move an identity between accounts; tell the person who tried.
                        drop(txn);
                        activity::record(
                            self.db.writes(),
                            Event {
                                user_id: Some(&linking_user),
                                kind: ActivityKind::SignInFailed,
                                provider_id: Some(c.provider_id),
                                detail: Some("link refused: that identity belongs to another account".into()),
                                client: Some(c.client),
                            },
                        )
                        .await?;
                        return Err(Failure::Login(LoginError::IdentityBelongsToAnotherAccount));
                    }
                    None => {
                        let identity = account::attach_identity(&txn, &linking_user, c.provider_id, c.verified)
                            .await
                            .map_err(|e| match e {
                            ProvisionError::Conflict => Failure::Login(LoginError::IdentityBelongsToAnotherAccount),
                            ProvisionError::Database(e) => Failure::Database(e),
                        })?;
                        (linking_user, identity.id, false, true)
                    }
                }
            }
            LoginPurpose::SignIn => match existing {
                Some((_, owner)) if owner.disabled_at.is_some() => {
                    drop(txn);
                    return Err(self.refuse_disabled(c, &owner.id).await);
                }
                Some((found, owner)) => {
                    let identity = account::refresh_identity(&txn, found, c.verified).await?;
                    (owner.id, identity.id, false, false)
                }
                None => {
                    let owner = same_email.first().map(|(_, owner)| owner.clone());
                    // Auto-linking needs trust on both sides: this provider vouches for the
                    // email, and so did the provider of the account's matching identity.
                    // Otherwise whoever signed up first through a provider that vouches loosely
                    // would receive the real owner's later sign-in.
                    let vouched_for_by_trusted = |owner: &account::User| {
                        same_email.iter().any(|(identity, of)| {
                            of.id == owner.id
                                && self.providers.get(&identity.provider_id).is_some_and(|p| p.trusts_email())
                        })
                    };
                    match owner {
                        Some(owner) if owner.disabled_at.is_some() => {
                            drop(txn);
                            return Err(self.refuse_disabled(c, &owner.id).await);
                        }
                        Some(owner) if c.trusts_email && vouched_for_by_trusted(&owner) => {
                            let identity =
                                account::attach_identity_in(&mut writes, &owner.id, c.provider_id, c.verified)?;
                            (owner.id, identity.id, false, true)
                        }
                        Some(owner) => {
                            // The email match may have seen an identity committed just now by a
                            // concurrent sign-in of this very identity: then that is the answer.
                            if account::find_identity(&txn, &c.verified.issuer, &c.verified.subject).await?.is_some() {
                                return Err(Failure::Conflict);
                            }
                            drop(txn);
                            return self.hold_for_linking(c, &owner.id).await;
                        }
                        None => {
                            let provisioned =
                                account::create_user_with_identity(&mut writes, c.provider_id, c.verified)?;
                            (provisioned.user.id, provisioned.identity.id, true, false)
                        }
                    }
                }
            },
        };
        tokens::store_in(&mut writes, &self.cipher, &identity_id, &c.verified.tokens);
        if let Some(previous) = c.previous_session_token {
            // Never keep a session that existed before authentication (fixation); linking
            // rotates the session too.
            writes.push(
                session::Entity::delete_many()
                    .filter(session::Column::TokenHash.eq(sha256_hex(previous)))
                    .build(writes.backend()),
            );
        }
        let issued = self.sessions.issue(
            &mut writes,
            &user_id,
            Some(&identity_id),
            &c.verified.provider_session,
            c.client,
            renewing.as_ref(),
        )?;
        if linked {
            activity::record_in(
                &mut writes,
                Event {
                    user_id: Some(&user_id),
                    kind: ActivityKind::IdentityLinked,
                    provider_id: Some(c.provider_id),
                    detail: c.verified.email.clone(),
                    client: Some(c.client),
                },
            )?;
        }
        activity::record_in(
            &mut writes,
            Event {
                user_id: Some(&user_id),
                kind: ActivityKind::SignedIn,
                provider_id: Some(c.provider_id),
                detail: None,
                client: Some(c.client),
            },
        )?;
        // A new identity's unique key is the one a concurrent sign-in can collide with.
        writes.run(&txn).await.map_err(ProvisionError::of_insert)?;
        txn.commit().await?;
        tracing::info!(provider = c.provider_id, user = %user_id, new_user = created_user, linked, "signed in");
        Ok(CallbackOutcome::SignedIn(SignedIn {
            session_token: issued.token,
            return_to: c.pending.return_to.clone(),
            user_id,
            created_user,
            linked,
        }))
    }

    /// A sign-in into a disabled account: refused, and noted in that account's log.
    async fn refuse_disabled(&self, c: &Completion<'_>, user_id: &str) -> Failure {
        let event = Event {
            user_id: Some(user_id),
            kind: ActivityKind::SignInFailed,
            provider_id: Some(c.provider_id),
            detail: Some("the account is disabled".into()),
            client: Some(c.client),
        };
        match activity::record(self.db.writes(), event).await {
            Ok(()) => Failure::Login(LoginError::AccountDisabled),
            Err(e) => Failure::Database(e),
        }
    }

    /// Keeps a verified identity aside, bound to this browser, until the person signs in to
    /// the account that owns its email and confirms the link.
    async fn hold_for_linking(&self, c: &Completion<'_>, existing_user_id: &str) -> Result<CallbackOutcome, Failure> {
        let now = Utc::now();
        let browser_hash = c.browser_token.map(sha256_hex).unwrap_or_default();
        let txn = self.db.begin().await?;
        pending_link::Entity::delete_many()
            .filter(pending_link::Column::BrowserHash.eq(browser_hash.clone()))
            .exec(&txn)
            .await?;
        pending_link::ActiveModel {
            token_hash: Set(sha256_hex(&random_token())),
            browser_hash: Set(browser_hash),
            existing_user_id: Set(existing_user_id.to_string()),
            provider_id: Set(c.provider_id.to_string()),
            issuer: Set(c.verified.issuer.clone()),
            subject: Set(c.verified.subject.clone()),
            name: Set(c.verified.name.clone()),
            email: Set(c.verified.email.clone()),
            email_verified: Set(c.verified.email_verified),
            picture: Set(c.verified.picture.clone()),
            created_at: Set(now),
            expires_at: Set(now + PENDING_LOGIN_LIFETIME),
        }
        .insert(&txn)
        .await?;
        let provider_ids = account::identities_of(&txn, existing_user_id)
            .await?
            .into_iter()
            .map(|identity| identity.provider_id)
            .fold(Vec::new(), |mut ids, id| {
                if !ids.contains(&id) {
                    ids.push(id);
                }
                ids
            });
        txn.commit().await?;
        Ok(CallbackOutcome::EmailBelongsToExistingAccount {
            email: c.verified.email.clone().unwrap_or_default(),
            provider_ids,
        })
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
        let browser_hash = browser_token.map(sha256_hex).unwrap_or_default();
        // One statement: only the browser that started it can consume it, and only once.
        static TEXT: SqlText = SqlText::new();
        let db = self.db.writes();
        let backend = db.get_database_backend();
        let consume = TEXT.statement(backend, vec![state_hash.as_str().into(), browser_hash.as_str().into()], || {
            let mut delete = pending_login::Entity::delete_many()
                .filter(pending_login::Column::StateHash.eq(state_hash.as_str()))
                .filter(pending_login::Column::BrowserHash.eq(browser_hash.as_str()));
            QueryTrait::query(&mut delete).returning(prepared::every_column::<pending_login::Entity>(backend));
            delete
        });
        match prepared::one::<SelectModel<pending_login::Model>>(db, consume).await? {
            Some(pending) => Ok(pending),
            // Which refusal it is, for the page; the other browser's attempt stays usable.
            None => match pending_login::Entity::find_by_id(state_hash).one(self.db.reads()).await? {
                Some(_) => Err(LoginError::OtherBrowser),
                None => Err(LoginError::NoPendingLogin),
            },
        }
    }
}

/// Everything one callback completion needs.
struct Completion<'a> {
    provider_id: &'a str,
    trusts_email: bool,
    verified: &'a VerifiedIdentity,
    pending: &'a pending_login::Model,
    browser_token: Option<&'a str>,
    previous_session_token: Option<&'a str>,
    client: &'a ClientInfo,
}

/// Why a completion attempt stopped; `Conflict` means "run it again".
enum Failure {
    Conflict,
    Login(LoginError),
    Database(DbErr),
}

impl From<DbErr> for Failure {
    fn from(e: DbErr) -> Self {
        Failure::Database(e)
    }
}

impl From<ProvisionError> for Failure {
    fn from(e: ProvisionError) -> Self {
        match e {
            ProvisionError::Conflict => Failure::Conflict,
            ProvisionError::Database(e) => Failure::Database(e),
        }
    }
}

impl Failure {
    fn into_login_error(self) -> LoginError {
        match self {
            Failure::Conflict => LoginError::Database(DbErr::Custom("identity conflict".into())),
            Failure::Login(e) => e,
            Failure::Database(e) => LoginError::Database(e),
        }
    }
}

impl Transient for Failure {
    fn is_transient(&self) -> bool {
        match self {
            Failure::Conflict => true,
            Failure::Database(e) => e.is_transient(),
            Failure::Login(e) => e.is_transient(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Conflict => write!(f, "the identity was created concurrently"),
            Failure::Login(e) => e.fmt(f),
            Failure::Database(e) => e.fmt(f),
        }
    }
}

impl Transient for LoginError {
    fn is_transient(&self) -> bool {
        matches!(self, LoginError::Database(e) if e.is_transient())
    }
}

pub(crate) fn is_well_formed_token(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_request_cannot_forge_a_log_line() {
        let forged = "x\n2026-11-30T08:00:00Z INFO signed in user=admin";
        for error in [
            LoginError::UnknownProvider(forged.into()),
            LoginError::ProviderDenied { error: forged.into(), description: None },
        ] {
            let logged = error.to_string();
            assert!(!logged.contains('\n') && !logged.contains('\r'), "{logged}");
            assert!(logged.contains(r"x\n2026"), "still says what came: {logged}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_code_the_state_or_the_pkce_verifier() {
        let params = CallbackParams {
            code: Some("the-authorization-code".into()),
            state: Some("the-state".into()),
            ..Default::default()
        };
        let shown = format!("{params:?}");
        assert!(!shown.contains("the-authorization-code") && !shown.contains("the-state"), "{shown}");

        let verifier = SecretText("the-pkce-verifier".into());
        assert!(!format!("{verifier:?}").contains("the-pkce-verifier"));
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            /// Any query string either parses or is refused by the extractor; none panics, and
            /// `Debug` (what a log would show) never carries the code or the state.
            #[test]
            fn callback_queries_parse_or_are_refused_without_leaking(query in prop_oneof![
                any::<String>(),
                "((code|state|iss|error|error_description|x)=[^&]{0,20}&?){0,6}",
            ]) {
                if let Some(params) = parse_query(&query) {
                    let placeholder = |value: &Option<String>| value.as_ref().map(|_| "..".to_string());
                    let without_secrets = CallbackParams {
                        code: placeholder(&params.code),
                        state: placeholder(&params.state),
                        ..params.clone()
                    };
                    prop_assert_eq!(format!("{params:?}"), format!("{without_secrets:?}"));
                }
            }
        }

        /// What axum's `Query` makes of a query string (`None`: refused).
        fn parse_query(query: &str) -> Option<CallbackParams> {
            let uri = axum::http::Uri::builder().path_and_query(format!("/cb?{query}")).build().ok()?;
            axum::extract::Query::<CallbackParams>::try_from_uri(&uri).ok().map(|query| query.0)
        }
    }
}
