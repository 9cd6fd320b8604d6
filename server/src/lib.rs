//! latchkey's sign-in core.
//!
//! Plain Rust that knows nothing of Leptos: configuration, providers, the login flow,
//! accounts, sessions, provider tokens, the activity log, storage and its background sweeper,
//! with the HTTP edge (routes, extractors, the same-site guard, rate limits, error pages) in
//! `http`. The UI crate talks to it through [`Latchkey`], the one handle to everything here,
//! and the `http` extractors.

pub mod access_tokens;
pub mod account;
pub mod activity;
pub mod admin;
pub mod config;
pub mod http;
pub mod login;
pub mod metrics;
pub mod provider;
pub mod session;
pub mod storage;
pub mod sweeper;
pub mod tokens;

mod latchkey;
mod util;

pub use config::Config;
pub use http::AppError;
pub use latchkey::{Latchkey, StartupError};
pub use latchkey_types as types;
