//! The tables, one sea-orm entity each.

pub mod activity_event;
pub mod admin_grant;
pub mod identity;
pub mod logout_token;
pub mod pending_link;
pub mod pending_login;
pub mod provider_token;
pub mod session;
pub mod signing_key;
pub mod user;

use std::fmt;

use sea_orm::DeriveValueType;

/// A column that holds a secret in the clear for a few minutes (a PKCE verifier, a nonce):
/// stored as text, never shown by `Debug`, so no log of a row can carry it.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct SecretText(pub String);

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(..)")
    }
}
