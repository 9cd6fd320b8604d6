//! Server functions and the serializable data they return.
//!
//! The DTOs here are all the UI knows about people and providers; they compile
//! for the browser too. Only the server-function bodies (and the `ssr` helpers
//! at the bottom) touch the sign-in core.

use chrono::{DateTime, Utc};
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
    /// Every identity linked to this account (including the session's one), oldest first.
    pub identities: Vec<Identity>,
    /// Signed in within the last few minutes: unlinking and deleting need it.
    pub recently_signed_in: bool,
}

impl Me {
    /// The distinct verified emails of the linked identities, in link order: the
    /// choices for the primary email.
    pub fn verified_emails(&self) -> Vec<String> {
        let mut emails: Vec<String> = Vec::new();
        for email in self.identities.iter().filter(|i| i.email_verified).filter_map(|i| i.email.as_ref()) {
            if !emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
                emails.push(email.clone());
            }
        }
        emails
    }
}

/// One provider account linked to the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The identity's own id (for unlinking it, or taking its picture).
    pub id: String,
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
    pub linked_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The provider tokens latchkey holds for this identity: `None` (none held),
    /// `"ok"`, `"expired"` (refreshed on next use) or `"reconnect_needed"` (the
    /// provider refused a refresh).
    pub token_status: Option<String>,
    /// The scopes the provider granted.
    pub token_scopes: Vec<String>,
}

/// What the UI makes of [`Identity::token_status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    Ok,
    Expired,
    ReconnectNeeded,
}

impl Identity {
    /// The state of the provider tokens, if latchkey holds any (an unknown
    /// status reads as none).
    pub fn token_state(&self) -> Option<TokenState> {
        match self.token_status.as_deref()? {
            "ok" => Some(TokenState::Ok),
            "expired" => Some(TokenState::Expired),
            "reconnect_needed" => Some(TokenState::ReconnectNeeded),
            _ => None,
        }
    }

    /// Where the "Refresh profile from provider" form posts.
    pub fn refresh_profile_action(&self) -> String {
        format!("/account/identities/{}/refresh-profile", encode_component(&self.id))
    }

    /// Where "Reconnect" sends the browser: signing in with the provider again.
    pub fn reconnect_href(&self) -> String {
        format!("/auth/{}/login?return_to=/accounts", encode_component(&self.provider))
    }

    /// "GitHub (ada@example.com)": the provider, told apart by email or name
    /// (someone may link two accounts of the same provider).
    pub fn label(&self) -> String {
        match self.email.as_deref().or(self.name.as_deref()) {
            Some(who) if !who.trim().is_empty() => format!("{} ({})", self.provider_name, who),
            _ => self.provider_name.clone(),
        }
    }
}

/// A provider account waiting, in this browser, to be linked to the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLinkInfo {
    pub provider: String,
    pub provider_name: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// One of the signed-in person's sessions (a signed-in browser).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    /// This browser's session.
    pub current: bool,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Name of the provider the session signed in with.
    pub provider: Option<String>,
}

/// One entry of the security activity log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEvent {
    /// `signed_in`, `sign_in_failed`, `signed_out`, `identity_linked`,
    /// `identity_unlinked`, `profile_updated`, `session_revoked`, `account_deleted`.
    pub kind: String,
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

/// The primary email and picture as stored after `update_profile`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProfile {
    pub email: Option<String>,
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
        format!("/auth/{}/login?return_to=/profile", encode_component(&self.id))
    }

    /// Where the "Link …" form posts to start linking this provider.
    pub fn link_action(&self) -> String {
        format!("/auth/{}/link", encode_component(&self.id))
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
    let user = latchkey.current_user(&cookies).await.map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(user.map(Me::from))
}

/// The providers people can sign in with, in configuration order.
#[server(endpoint = "sign_in_providers")]
pub async fn sign_in_providers() -> Result<Vec<ProviderButton>, ServerFnError> {
    let latchkey = latchkey()?;
    Ok(latchkey.providers().into_iter().map(|p| ProviderButton { id: p.id, name: p.name, kind: p.kind }).collect())
}

/// Changes the signed-in person's display name; returns the name as stored.
///
/// Posted from a plain HTML form (no JavaScript), it answers with a redirect
/// back to `/profile`, carrying any error message in `?error=`.
#[server(endpoint = "update_display_name")]
pub async fn update_display_name(display_name: String) -> Result<String, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    let result = latchkey.update_display_name(&cookies, display_name.trim()).await.map_err(|e| {
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

/// Chooses the primary email (one of the verified emails of the linked
/// identities) and the picture (the picture of the identity with this id);
/// an empty string means none (no primary email; initials instead of a picture).
///
/// Posted from a plain HTML form (no JavaScript), it answers with a redirect
/// back to `/profile`, carrying any error message in `?error=` (with
/// `form=profile`, so the page shows it next to this form).
#[server(endpoint = "update_profile")]
pub async fn update_profile(primary_email: String, picture_identity: String) -> Result<SavedProfile, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    let primary_email = Some(primary_email.trim()).filter(|e| !e.is_empty());
    let picture_identity = Some(picture_identity.trim()).filter(|p| !p.is_empty());
    let result = latchkey
        .update_profile(&cookies, primary_email, picture_identity)
        .await
        .map(|user| SavedProfile { email: user.email, picture: user.picture })
        .map_err(|e| {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(status_of(&e));
            }
            e.to_string()
        });

    if is_plain_form_post() {
        let location = match &result {
            Ok(_) => "/profile".to_string(),
            Err(message) => format!("/profile?form=profile&error={}", encode_component(message)),
        };
        leptos_axum::redirect(&location);
    }

    result.map_err(ServerFnError::new)
}

/// The provider account waiting in this browser to be linked, if any.
#[server(endpoint = "pending_link")]
pub async fn pending_link() -> Result<Option<PendingLinkInfo>, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    let pending = latchkey.pending_link(&cookies).await.map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(pending.map(|p| PendingLinkInfo {
        provider: p.provider,
        provider_name: p.provider_name,
        email: p.email,
        name: p.name,
    }))
}

/// The signed-in person's sessions, most recently used first; `None` when
/// nobody is signed in.
#[server(endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Option<Vec<SessionInfo>>, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    match latchkey.sessions_of(&cookies).await {
        Ok(sessions) => Ok(Some(
            sessions
                .into_iter()
                .map(|s| SessionInfo {
                    id: s.id,
                    current: s.current,
                    created_at: s.created_at,
                    last_seen_at: s.last_seen_at,
                    user_agent: s.user_agent,
                    ip: s.ip,
                    provider: s.provider,
                })
                .collect(),
        )),
        Err(latchkey_server::AppError::Unauthenticated) => Ok(None),
        Err(e) => Err(ServerFnError::new(e.to_string())),
    }
}

/// A page (zero-based) of the signed-in person's security activity, newest
/// first; `None` when nobody is signed in.
#[server(endpoint = "security_activity")]
pub async fn security_activity(page: u64) -> Result<Option<ActivityPage>, ServerFnError> {
    let latchkey = latchkey()?;
    let cookies = leptos_axum::extract::<axum_extra::extract::CookieJar>().await?;
    // Far beyond any real log; keeps the offset arithmetic well away from overflow.
    let page = page.min(1_000_000);
    match latchkey.activity(&cookies, page).await {
        Ok(activity) => Ok(Some(ActivityPage {
            events: activity
                .events
                .into_iter()
                .map(|e| ActivityEvent {
                    kind: e.kind,
                    provider: e.provider,
                    detail: e.detail,
                    ip: e.ip,
                    user_agent: e.user_agent,
                    at: e.at,
                })
                .collect(),
            page: activity.page,
            pages: activity.pages,
        })),
        Err(latchkey_server::AppError::Unauthenticated) => Ok(None),
        Err(e) => Err(ServerFnError::new(e.to_string())),
    }
}

/// The message to show people for a failed server function.
pub fn error_message(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(message) => message.clone(),
        ServerFnError::Request(_) => "Could not reach the server. Check your connection and try again.".to_string(),
        _ => "Something went wrong. Please try again.".to_string(),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
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

/// The HTTP status for a refused update (401 without a session, 422 for input
/// the core refuses, 503 when the database is unavailable, …).
#[cfg(feature = "ssr")]
fn status_of(error: &latchkey_server::AppError) -> http::StatusCode {
    error.status()
}

/// Whether this request is an HTML form submitted without JavaScript (the
/// browser asks for HTML; the server-function client does not).
#[cfg(feature = "ssr")]
fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>()
        .and_then(|parts| {
            parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::IdentityView> for Identity {
    fn from(i: latchkey_server::IdentityView) -> Self {
        Identity {
            id: i.id,
            provider: i.provider,
            provider_name: i.provider_name,
            issuer: i.issuer,
            subject: i.subject,
            name: i.name,
            email: i.email,
            email_verified: i.email_verified,
            picture: i.picture,
            linked_at: i.linked_at,
            last_used_at: i.last_used_at,
            token_status: i.token_status,
            token_scopes: i.token_scopes,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<latchkey_server::CurrentUser> for Me {
    fn from(current: latchkey_server::CurrentUser) -> Self {
        let identities: Vec<Identity> = current.identities.into_iter().map(Identity::from).collect();
        // By identity, not provider: a person may link two accounts of one provider.
        let session_identity = current
            .signed_in_with_identity
            .as_deref()
            .and_then(|identity_id| identities.iter().find(|i| i.id == identity_id))
            .cloned();
        Me {
            id: current.user.id,
            name: current.user.name,
            email: current.user.email,
            picture: current.user.picture,
            session_identity,
            identities,
            recently_signed_in: current.recently_signed_in,
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
        let b = ProviderButton { id: "corp-sso".into(), name: "Corp".into(), kind: "weird".into() };
        assert_eq!(b.login_href(), "/auth/corp-sso/login?return_to=/profile");
        assert_eq!(b.style_kind(), "oidc");
        assert_eq!(b.link_action(), "/auth/corp-sso/link");
    }

    #[test]
    fn token_state_and_hrefs() {
        let mut i = Identity {
            id: "id/1".into(),
            provider: "corp sso".into(),
            provider_name: "Corp".into(),
            issuer: "https://corp.example".into(),
            subject: "42".into(),
            name: None,
            email: None,
            email_verified: false,
            picture: None,
            linked_at: DateTime::<Utc>::MIN_UTC,
            last_used_at: DateTime::<Utc>::MIN_UTC,
            token_status: None,
            token_scopes: vec![],
        };
        assert_eq!(i.token_state(), None);
        for (status, state) in [
            ("ok", Some(TokenState::Ok)),
            ("expired", Some(TokenState::Expired)),
            ("reconnect_needed", Some(TokenState::ReconnectNeeded)),
            ("weird", None),
        ] {
            i.token_status = Some(status.into());
            assert_eq!(i.token_state(), state);
        }
        assert_eq!(i.refresh_profile_action(), "/account/identities/id%2F1/refresh-profile");
        assert_eq!(i.reconnect_href(), "/auth/corp%20sso/login?return_to=/accounts");
    }
}
