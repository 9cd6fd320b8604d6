//! Server functions and the serializable data they return.
//!
//! The DTOs here are all the UI knows about people and providers; they compile
//! for the browser too. Only the server-function bodies (and the `ssr` helpers
//! at the bottom) touch the sign-in core.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    /// Display name.
    pub name: String,
    pub email: Option<String>,
    /// URL of a profile picture, if any.
    pub picture: Option<String>,
    /// The identity this session was signed in with, if known.
    pub session_identity: Option<Identity>,
    /// Every identity linked to this account (including the session's one).
    pub identities: Vec<Identity>,
}

/// One provider account linked to the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Provider id, e.g. `google`.
    pub provider: String,
    /// Provider name for people, e.g. "Google".
    pub provider_name: String,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
}

/// One "Sign in with …" button on the front page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderButton {
    /// URL segment: `/auth/{id}/login`.
    pub id: String,
    /// Label, e.g. "Google".
    pub name: String,
    /// `oidc`, `google`, `microsoft` or `github`.
    pub kind: String,
}

impl ProviderButton {
    /// Where the button sends the browser to start signing in.
    pub fn login_href(&self) -> String {
        format!(
            "/auth/{}/login?return_to=/profile",
            encode_component(&self.id)
        )
    }

    /// The style modifier for this provider; unknown kinds look like generic OIDC.
    pub fn style_kind(&self) -> &'static str {
        match self.kind.as_str() {
            "google" => "google",
            "microsoft" => "microsoft",
            "github" => "github",
            _ => "oidc",
        }
    }
}

/// The person signed in in this browser, if any.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    let user = latchkey
        .current_user(&cookies)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(user.map(Me::from))
}

/// The providers people can sign in with, in configuration order.
#[server(endpoint = "sign_in_providers")]
pub async fn sign_in_providers() -> Result<Vec<ProviderButton>, ServerFnError> {
    let latchkey = latchkey()?;
    Ok(latchkey
        .providers()
        .into_iter()
        .map(|p| ProviderButton {
            id: p.id,
            name: p.name,
            kind: p.kind,
        })
        .collect())
}

/// Changes the signed-in person's display name; returns the name as stored.
///
/// Posted from a plain HTML form (no JavaScript), it answers with a redirect
/// back to `/profile`, carrying any error message in `?error=`.
#[server(endpoint = "update_display_name")]
pub async fn update_display_name(display_name: String) -> Result<String, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    let result = latchkey
        .update_display_name(&cookies, display_name.trim())
        .await
        .map_err(|e| {
            // 422 for a name the core refuses, 401 without a session, …
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(status_of(&e));
            }
            e.to_string()
        });

    if is_plain_form_post() {
        let location = match &result {
            Ok(_) => "/profile".to_string(),
            Err(message) => format!("/profile?error={}", encode_component(message)),
        };
        leptos_axum::redirect(&location);
    }

    result.map_err(ServerFnError::new)
}

/// The message to show people for a failed server function.
pub fn error_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        ServerFnError::Request(_) => {
            "Could not reach the server. Check your connection and try again.".to_string()
        }
        _ => "Something went wrong. Please try again.".to_string(),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(feature = "ssr")]
fn latchkey() -> Result<latchkey_server::Latchkey, ServerFnError> {
    use_context::<latchkey_server::Latchkey>()
        .ok_or_else(|| ServerFnError::new("The sign-in service is not available."))
}

/// The HTTP status for a refused update.
#[cfg(feature = "ssr")]
fn status_of(error: &latchkey_server::AppError) -> http::StatusCode {
    use latchkey_server::AppError;
    match error {
        AppError::Unauthenticated => http::StatusCode::UNAUTHORIZED,
        AppError::InvalidInput(_) => http::StatusCode::UNPROCESSABLE_ENTITY,
        _ => http::StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether this request is an HTML form submitted without JavaScript (the
/// browser asks for HTML; the server-function client does not).
#[cfg(feature = "ssr")]
fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::IdentityView> for Identity {
    fn from(i: latchkey_server::IdentityView) -> Self {
        Identity {
            provider: i.provider,
            provider_name: i.provider_name,
            issuer: i.issuer,
            subject: i.subject,
            name: i.name,
            email: i.email,
            email_verified: i.email_verified,
            picture: i.picture,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::CurrentUser> for Me {
    fn from(current: latchkey_server::CurrentUser) -> Self {
        let identities: Vec<Identity> =
            current.identities.into_iter().map(Identity::from).collect();
        let session_identity = current
            .signed_in_with
            .as_deref()
            .and_then(|provider| identities.iter().find(|i| i.provider == provider))
            .cloned();
        Me {
            id: current.user.id,
            name: current.user.name,
            email: current.user.email,
            picture: current.user.picture,
            session_identity,
            identities,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_components() {
        assert_eq!(encode_component("google"), "google");
        assert_eq!(encode_component("a b/é?&"), "a%20b%2F%C3%A9%3F%26");
    }

    #[test]
    fn login_href_and_kind() {
        let b = ProviderButton {
            id: "corp-sso".into(),
            name: "Corp".into(),
            kind: "weird".into(),
        };
        assert_eq!(b.login_href(), "/auth/corp-sso/login?return_to=/profile");
        assert_eq!(b.style_kind(), "oidc");
    }
}
