//! What the admin pages show of other people's accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ActivityPage, Identity, SessionInfo, UserId};

/// One account in the admin's list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserSummary {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    /// The names of the providers of its identities, in link order.
    pub providers: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Disabled by an admin (and since when).
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A page of the accounts matching a search, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserPage {
    pub users: Vec<AdminUserSummary>,
    /// Zero-based.
    pub page: u64,
    /// How many pages there are (0 when nothing matches).
    pub pages: u64,
}

/// One account in full, for an admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserDetail {
    pub user: AdminUserSummary,
    pub identities: Vec<Identity>,
    pub sessions: Vec<SessionInfo>,
    /// The first page of its activity log.
    pub activity: ActivityPage,
}
