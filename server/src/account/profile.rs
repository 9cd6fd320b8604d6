//! The person's profile: display name, primary email, picture, and reading name and picture
//! again from a provider.

use latchkey_types::{DisplayName, ProviderId, ProviderKind, SavedProfile};

use super::{AccountError, Accounts, identities_of, rename, set_email_and_picture, set_identity_profile};
use crate::activity::{self, ActivityKind, Event};
use crate::session::{ClientInfo, Session};
use crate::storage::retry;
use crate::tokens::TokenError;

impl Accounts {
    /// Changes the display name; returns it as stored.
    pub async fn rename(&self, session: &Session, name: &str) -> Result<DisplayName, AccountError> {
        let name = &DisplayName::parse(name)?;
        retry(|| async move {
            let txn = self.db.begin().await?;
            rename(&txn, session.user.clone(), name.clone()).await?;
            let event = Event::by(session.user_id(), ActivityKind::ProfileUpdated).detail("display name changed");
            activity::record(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, AccountError>(())
        })
        .await?;
        Ok(name.clone())
    }

    /// Chooses the primary email (one of the verified emails of the linked identities, or
    /// none) and the picture (one of the linked identities' pictures, or none).
    pub async fn update_profile(
        &self,
        session: &Session,
        primary_email: Option<&str>,
        picture_from_identity: Option<&str>,
    ) -> Result<SavedProfile, AccountError> {
        let identities = identities_of(self.db.reads(), session.user_id()).await?;
        let email = match primary_email.filter(|e| !e.is_empty()) {
            None => None,
            Some(email) => Some(
                identities
                    .iter()
                    .filter(|i| i.email_verified)
                    .filter_map(|i| i.email.clone())
                    .find(|e| e.eq_ignore_ascii_case(email))
                    .ok_or(AccountError::NotAVerifiedEmail)?,
            ),
        };
        let picture = match picture_from_identity.filter(|p| !p.is_empty()) {
            None => None,
            Some(identity_id) => Some(
                identities
                    .iter()
                    .find(|i| i.id == identity_id)
                    .and_then(|i| i.picture.clone())
                    .ok_or(AccountError::NotALinkedPicture)?,
            ),
        };
        let (email, picture) = (&email, &picture);
        let user = retry(|| async move {
            let txn = self.db.begin().await?;
            let user = set_email_and_picture(&txn, session.user.clone(), email.clone(), picture.clone()).await?;
            let event =
                Event::by(session.user_id(), ActivityKind::ProfileUpdated).detail("primary email or picture changed");
            activity::record(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, AccountError>(user)
        })
        .await?;
        Ok(SavedProfile { email: user.email, picture: user.picture })
    }

    /// Reads name and picture again from the provider's API with the identity's access token
    /// (refreshing it first if needed): the provider token put to use.
    pub async fn refresh_profile(
        &self,
        session: &Session,
        identity_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let identity = identities_of(self.db.reads(), session.user_id())
            .await?
            .into_iter()
            .find(|i| i.id == identity_id)
            .ok_or(AccountError::NotFound)?;
        let provider = self.providers.get(&identity.provider_id).ok_or(AccountError::NotFound)?;
        let provider_id = ProviderId::new(&identity.provider_id);
        let access_token = self.tokens.access_token(identity_id).await.map_err(|e| match e {
            TokenError::Database(e) => AccountError::Database(e),
            TokenError::NoTokens => AccountError::NoProviderAccess { provider: provider_id.clone() },
            TokenError::ReconnectNeeded => AccountError::ReconnectNeeded { provider: provider_id.clone() },
            other => AccountError::ProviderUnavailable { provider: provider_id.clone(), reason: other.to_string() },
        })?;
        // Microsoft's userinfo `sub` is not the identity's subject (that is the `oid`).
        let subject = (provider.kind() != ProviderKind::Microsoft).then_some(identity.subject.as_str());
        let profile = provider
            .fetch_profile(&access_token, subject)
            .await
            .map_err(|e| AccountError::ProviderAnswer { provider: provider_id.clone(), reason: e.to_string() })?;
        let provider_name = self.providers.name_of(&identity.provider_id);
        let (identity, profile, provider_name) = (&identity, &profile, &provider_name);
        retry(|| async move {
            let txn = self.db.begin().await?;
            set_identity_profile(&txn, identity.clone(), profile.name.clone(), profile.picture.clone()).await?;
            let event = Event::by(session.user_id(), ActivityKind::ProfileUpdated)
                .provider(&identity.provider_id)
                .detail(format!("profile refreshed from {provider_name}"))
                .from(client);
            activity::record(&txn, event).await?;
            txn.commit().await?;
            Ok::<_, AccountError>(())
        })
        .await
    }
}
