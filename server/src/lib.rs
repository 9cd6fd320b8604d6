//! latchkey's sign-in core.
//!
//! Plain Rust with axum routes at the edge: it knows nothing of Leptos. The UI
//! crate talks to it through [`Latchkey`], the one handle to everything here.

pub mod account;
pub mod activity;
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

pub use config::Config;
pub use error::AppError;
pub use latchkey_types as types;
pub use state::{Latchkey, StartupError};
