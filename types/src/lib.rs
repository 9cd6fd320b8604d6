//! The values that cross the boundary between latchkey's core (`latchkey-server`) and its
//! UI (`latchkey-app`), defined once: ids, the enums the database stores, what the pages
//! show of a person, and the route paths.
//!
//! Serde only, so it compiles for the browser too. The `server` feature adds how the core
//! stores the enums (sea-orm), which the browser build never needs.

mod account;
mod activity;
mod admin;
mod ids;
mod kinds;
mod refusal;
pub mod routes;
mod site;

pub use account::{DisplayName, DisplayNameError, Identity, Me, PendingLinkInfo, SavedProfile, SessionInfo};
pub use activity::{ActivityEvent, ActivityKind, ActivityPage};
pub use admin::{AdminUserDetail, AdminUserPage, AdminUserSummary};
pub use ids::{IdentityId, ProviderId, SessionId, UserId};
pub use kinds::{LoginPurpose, ProviderKind, ProviderSummary, TokenStatus};
pub use refusal::ApiRefusal;
pub use site::SiteFiles;
