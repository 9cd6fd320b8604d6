//! Accounts: the person behind a session, their profile, the identities they link and
//! unlink, and deleting it all. Users and identities are provisioned by `(issuer, subject)`,
//! never by email (`records`).
//!
//! Every service here takes the request's authenticated [`Session`], never cookies; the
//! HTTP edge and the UI's server functions turn a request into one.

mod deletion;
mod linking;
mod profile;
mod records;

use latchkey_types::{DisplayNameError, Identity, IdentityId, Me, ProviderId, TokenStatus, UserId};
use sea_orm::{DbErr, EntityTrait};

pub use records::*;

use crate::provider::Providers;
use crate::session::Session;
use crate::storage::entities::{identity, user};
use crate::storage::{Database, IdentityWithTokens};
use crate::tokens::Tokens;

/// Why an account change was refused. The edge words it for people.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the change needs a recent sign-in")]
    ReauthenticationRequired,
    #[error("no such identity, session or pending link for this person")]
    NotFound,
    #[error("the only identity of an account cannot be unlinked")]
    LastIdentity,
    #[error("not a verified email of a linked identity")]
    NotAVerifiedEmail,
    #[error("not a picture of a linked identity")]
    NotALinkedPicture,
    #[error("display name refused: {0}")]
    DisplayName(#[from] DisplayNameError),
    #[error("the identity was linked to another account in the meantime")]
    LinkedElsewhere,
    #[error("{provider}: latchkey holds no access for this identity")]
    NoProviderAccess { provider: ProviderId },
    #[error("{provider} refused latchkey's refresh token")]
    ReconnectNeeded { provider: ProviderId },
    #[error("{provider} could not be asked: {reason}")]
    ProviderUnavailable { provider: ProviderId, reason: String },
    #[error("{provider} answered unexpectedly: {reason}")]
    ProviderAnswer { provider: ProviderId, reason: String },
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl crate::storage::Transient for AccountError {
    fn is_transient(&self) -> bool {
        matches!(self, AccountError::Database(e) if e.is_transient())
    }
}

/// The account services. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    db: Database,
    providers: Providers,
    tokens: Tokens,
}

impl Accounts {
    pub fn new(db: Database, providers: Providers, tokens: Tokens) -> Self {
        Accounts { db, providers, tokens }
    }

    /// The signed-in person's identities, oldest first.
    pub async fn identities(&self, user_id: &str) -> Result<Vec<identity::Model>, DbErr> {
        match self.db.inline() {
            Some(inline) => inline.identities_of(user_id),
            None => identities_of(self.db.reads(), user_id).await,
        }
    }

    /// The user with this id, if the account still exists.
    pub async fn user(&self, user_id: &str) -> Result<Option<user::Model>, DbErr> {
        user::Entity::find_by_id(user_id.to_string()).one(self.db.reads()).await
    }

    /// The signed-in person as the pages show them: profile, identities and the state of
    /// the provider tokens held for each (one query: the sealed tokens themselves stay put).
    pub async fn me(&self, session: &Session) -> Result<Me, DbErr> {
        let identities = self.identities_with_tokens(session.user_id()).await?;
        Ok(self.me_with(session, identities))
    }

    /// The signed-in person as the pages show them, their identities already read (as
    /// [`Sessions::authenticate_with_identities_and_tokens`] reads them with the session).
    ///
    /// [`Sessions::authenticate_with_identities_and_tokens`]: crate::session::Sessions::authenticate_with_identities_and_tokens
    pub fn me_with(&self, session: &Session, identities: Vec<IdentityWithTokens>) -> Me {
        let identities = self.shown(identities);
        let user = &session.user;
        let signed_in_with = session.record.identity_id.clone().map(IdentityId::new);
        let provider_sign_out = identities
            .iter()
            .find(|identity| Some(&identity.id) == signed_in_with.as_ref())
            .and_then(|identity| self.providers.get(identity.provider.as_str()))
            .filter(|provider| provider.offers_sign_out())
            .map(|provider| provider.name().to_string());
        Me {
            id: UserId::new(&user.id),
            name: user.display_name.clone(),
            email: user.email.clone(),
            picture: user.picture.clone(),
            identities,
            signed_in_with,
            recently_signed_in: session.is_recent(),
            provider_sign_out,
        }
    }

    /// A user's identities as the pages show them, with the state of the provider tokens held
    /// for each (one query: the sealed tokens themselves stay put).
    pub async fn identities_shown(&self, user_id: &str) -> Result<Vec<Identity>, DbErr> {
        Ok(self.shown(self.identities_with_tokens(user_id).await?))
    }

    async fn identities_with_tokens(&self, user_id: &str) -> Result<Vec<IdentityWithTokens>, DbErr> {
        match self.db.inline() {
            Some(inline) => inline.identities_with_tokens(user_id),
            None => identities_with_tokens(self.db.reads(), user_id).await,
        }
    }

    /// Identities as the pages show them: with their provider's name, and tokens past their
    /// expiry shown as expired.
    fn shown(&self, rows: Vec<IdentityWithTokens>) -> Vec<Identity> {
        let now = chrono::Utc::now();
        rows.into_iter()
            .map(|(identity, token_status, token_expires_at, token_scopes)| Identity {
                provider_name: self.providers.name_of(&identity.provider_id),
                id: IdentityId::new(identity.id),
                provider: ProviderId::new(identity.provider_id),
                issuer: identity.issuer,
                subject: identity.subject,
                name: identity.name,
                email: identity.email,
                email_verified: identity.email_verified,
                picture: identity.picture,
                linked_at: identity.created_at,
                last_used_at: identity.last_used_at,
                token_status: token_status.map(|status| match status {
                    TokenStatus::Ok if token_expires_at.is_some_and(|at| at <= now) => TokenStatus::Expired,
                    status => status,
                }),
                token_scopes: token_scopes
                    .map(|scopes| scopes.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// Sensitive changes (linking, unlinking, deleting) need a recent sign-in.
fn require_recent(session: &Session) -> Result<(), AccountError> {
    if session.is_recent() { Ok(()) } else { Err(AccountError::ReauthenticationRequired) }
}
