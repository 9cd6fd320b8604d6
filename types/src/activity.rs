//! The security activity log, as the person sees it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "server", sea_orm(rs_type = "String", db_type = "Text"))]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    #[cfg_attr(feature = "server", sea_orm(string_value = "signed_in"))]
    SignedIn,
    /// A sign-in or link into one of the account's identities that was refused.
    #[cfg_attr(feature = "server", sea_orm(string_value = "sign_in_failed"))]
    SignInFailed,
    #[cfg_attr(feature = "server", sea_orm(string_value = "signed_out"))]
    SignedOut,
    #[cfg_attr(feature = "server", sea_orm(string_value = "identity_linked"))]
    IdentityLinked,
    #[cfg_attr(feature = "server", sea_orm(string_value = "identity_unlinked"))]
    IdentityUnlinked,
    #[cfg_attr(feature = "server", sea_orm(string_value = "profile_updated"))]
    ProfileUpdated,
    #[cfg_attr(feature = "server", sea_orm(string_value = "session_revoked"))]
    SessionRevoked,
    #[cfg_attr(feature = "server", sea_orm(string_value = "account_deleted"))]
    AccountDeleted,
    /// The provider said the person signed out there (back-channel logout).
    #[cfg_attr(feature = "server", sea_orm(string_value = "signed_out_by_provider"))]
    SignedOutByProvider,
    /// Every session but the one that asked was ended ("Sign out everywhere else").
    #[cfg_attr(feature = "server", sea_orm(string_value = "other_sessions_ended"))]
    OtherSessionsEnded,
    /// An admin ended every session of the account (the detail names the admin).
    #[cfg_attr(feature = "server", sea_orm(string_value = "sessions_ended_by_admin"))]
    SessionsEndedByAdmin,
    /// An admin disabled the account (the detail names the admin).
    #[cfg_attr(feature = "server", sea_orm(string_value = "account_disabled"))]
    AccountDisabled,
    /// An admin enabled the account again (the detail names the admin).
    #[cfg_attr(feature = "server", sea_orm(string_value = "account_enabled"))]
    AccountEnabled,
}

/// One entry of the security activity log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEvent {
    pub kind: ActivityKind,
    /// Provider name, if the event concerns one.
    pub provider: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
}

/// A page of the activity log, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    /// Zero-based.
    pub page: u64,
    /// How many pages there are (0 when the log is empty).
    pub pages: u64,
}
