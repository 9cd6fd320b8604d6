//! latchkey's sign-in core.
//!
//! Plain Rust with axum routes at the edge: it knows nothing of Leptos. The UI
//! crate talks to it through [`Latchkey`], the one handle to everything here.

pub mod account;
pub mod audit;
pub mod config;
pub mod error;
pub mod http;
pub mod login;
pub mod provider;
pub mod session;
pub mod storage;
pub mod tokens;

mod state;
mod util;

pub use account::{ActivityPage, ActivityView, CurrentUser, IdentityView, PendingLinkView, SessionView, UserView};
pub use config::Config;
pub use error::AppError;
pub use provider::ProviderSummary;
pub use state::{Latchkey, StartupError};
