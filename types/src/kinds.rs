//! Enums the core stores and the UI shows. With the `server` feature they map to the
//! database's text columns, as the same strings that were stored before they were enums.

use serde::{Deserialize, Serialize};

use crate::ProviderId;

/// The state of the provider tokens latchkey holds for an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "server", sea_orm(rs_type = "String", db_type = "Text"))]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Usable (the access token may have expired; it is refreshed on next use).
    #[cfg_attr(feature = "server", sea_orm(string_value = "ok"))]
    Ok,
    /// Shown, never stored: the access token expired and is refreshed on next use.
    #[cfg_attr(feature = "server", sea_orm(string_value = "expired"))]
    Expired,
    /// The provider refused a refresh: the person has to sign in with it again.
    #[cfg_attr(feature = "server", sea_orm(string_value = "reconnect_needed"))]
    ReconnectNeeded,
}

/// Why a sign-in went to the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "server", sea_orm(rs_type = "String", db_type = "Text"))]
#[serde(rename_all = "snake_case")]
pub enum LoginPurpose {
    /// Sign in (or sign up).
    #[cfg_attr(feature = "server", sea_orm(string_value = "sign_in"))]
    SignIn,
    /// Add the identity to the signed-in account.
    #[cfg_attr(feature = "server", sea_orm(string_value = "link"))]
    Link,
}

/// What kind of provider this is: how latchkey talks to it, and how its button looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum))]
#[cfg_attr(feature = "server", sea_orm(rs_type = "String", db_type = "Text"))]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Any OpenID Connect provider, by its issuer.
    #[cfg_attr(feature = "server", sea_orm(string_value = "oidc"))]
    Oidc,
    #[cfg_attr(feature = "server", sea_orm(string_value = "google"))]
    Google,
    /// Microsoft Entra ID (work, school and personal Microsoft accounts).
    #[cfg_attr(feature = "server", sea_orm(string_value = "microsoft"))]
    Microsoft,
    /// OAuth 2.0 without OpenID Connect; the identity comes from GitHub's REST API.
    #[serde(rename = "github")]
    #[cfg_attr(feature = "server", sea_orm(string_value = "github"))]
    GitHub,
}

/// A provider people can sign in with: one "Sign in with …" button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSummary {
    pub id: ProviderId,
    /// Label, e.g. "Google".
    pub name: String,
    pub kind: ProviderKind,
}
