//! Signing out, both ways:
//! - "Sign this person out everywhere": the development provider ends a person's sessions at
//!   its client the way a real provider does, with a signed back-channel logout token posted to
//!   the client's back-channel logout URL (OpenID Connect Back-Channel Logout 1.0);
//! - the end-session endpoint, where the client sends a browser to sign out here too (OpenID
//!   Connect RP-Initiated Logout 1.0), and which sends it back to the client.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::authorize::html;
use crate::jwt::Signing;
use crate::pages;
use crate::params::Params;
use crate::{DevIdp, now, random_token, subject_for_email};

/// The event that makes a JWT a logout token.
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// `GET /sign-out`: the form.
pub(crate) async fn sign_out_get(State(idp): State<DevIdp>) -> Response {
    html(StatusCode::OK, pages::sign_out_page(idp.client().client_id.as_str(), None))
}

#[derive(serde::Deserialize)]
pub(crate) struct SignOutForm {
    email: String,
}

/// `POST /sign-out`: sends the client a logout token naming the person (`sub`), and says what
/// the client answered.
pub(crate) async fn sign_out_post(State(idp): State<DevIdp>, axum::Form(form): axum::Form<SignOutForm>) -> Response {
    let email = form.email.trim();
    let now = now();
    let claims = json!({
        "iss": idp.issuer_str(),
        "aud": idp.client().client_id,
        "iat": now,
        "exp": now + 120,
        "jti": random_token(),
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        "sub": subject_for_email(email),
    });
    let token = idp.logout_token(Signing::Es256, &claims);
    let outcome = match beside_callback(&idp.client().redirect_uri, "backchannel-logout") {
        Some(url) => match reqwest::Client::new().post(url).form(&[("logout_token", token)]).send().await {
            Ok(answer) if answer.status().is_success() => format!("{email} was signed out everywhere."),
            Ok(answer) => format!("The client refused the logout token (HTTP {}).", answer.status().as_u16()),
            Err(error) => format!("The client could not be reached: {error}."),
        },
        None => "The client's redirect URI does not end in /callback, so its logout URL is unknown.".to_string(),
    };
    html(StatusCode::OK, pages::sign_out_page(idp.client().client_id.as_str(), Some(&outcome)))
}

/// latchkey's other URLs for a provider sit beside its callback: `{public}/auth/{id}/callback`
/// → `{public}/auth/{id}/{name}` (`backchannel-logout`, `logged-out`).
fn beside_callback(redirect_uri: &str, name: &str) -> Option<String> {
    redirect_uri.strip_suffix("/callback").map(|base| format!("{base}/{name}"))
}

/// `GET /logout`: the end-session endpoint (RP-Initiated Logout 1.0).
pub(crate) async fn end_session_get(State(idp): State<DevIdp>, RawQuery(query): RawQuery) -> Response {
    end_session(&idp, &Params::parse(query.unwrap_or_default().as_bytes()))
}

/// `POST /logout`: the same, with the parameters in a form.
pub(crate) async fn end_session_post(State(idp): State<DevIdp>, body: Bytes) -> Response {
    end_session(&idp, &Params::parse(&body))
}

/// Checks who asks (the hint must be an ID token this provider issued to its client) and where
/// to go back to (exactly the registered URI), notes the provider session as ended, and sends
/// the browser back with `state`; without a way back, says so on a page.
fn end_session(idp: &DevIdp, params: &Params) -> Response {
    let refuse = |message: &str| html(StatusCode::BAD_REQUEST, pages::error_page(message));
    let single = |name| params.single(name).map_err(|e| e.describe());
    let (hint, client_id, back_to, state) =
        match (single("id_token_hint"), single("client_id"), single("post_logout_redirect_uri"), single("state")) {
            (Ok(hint), Ok(client_id), Ok(back_to), Ok(state)) => (hint, client_id, back_to, state),
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return refuse(&e),
        };
    let client = idp.client();
    if client_id.is_some_and(|id| id != client.client_id) {
        return refuse("The client_id is not a registered client.");
    }
    let hinted = match hint {
        Some(hint) => match idp.issued_id_token(hint) {
            Some(claims) => Some(claims),
            None => return refuse("The id_token_hint is not an ID token this provider issued to this client."),
        },
        None => None,
    };
    if let Some(sid) = hinted.as_ref().and_then(|claims| claims.get("sid")).and_then(Value::as_str) {
        idp.note_ended_sid(sid);
    }
    let Some(back_to) = back_to else {
        return html(StatusCode::OK, pages::signed_out_page());
    };
    if client_id.is_none() && hinted.is_none() {
        return refuse("A post_logout_redirect_uri needs the client_id or an id_token_hint to say whose it is.");
    }
    if Some(back_to) != beside_callback(&client.redirect_uri, "logged-out").as_deref() {
        return refuse("The post_logout_redirect_uri is not the one registered for this client.");
    }
    let Ok(mut url) = url::Url::parse(back_to) else { return refuse("The post_logout_redirect_uri is not a URL.") };
    if let Some(state) = state {
        url.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, url.to_string()), (header::CACHE_CONTROL, "no-store".to_string())])
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn latchkeys_urls_sit_beside_the_callback() {
        let callback = "http://127.0.0.1:3000/auth/dev/callback";
        assert_eq!(
            super::beside_callback(callback, "backchannel-logout").as_deref(),
            Some("http://127.0.0.1:3000/auth/dev/backchannel-logout")
        );
        assert_eq!(
            super::beside_callback(callback, "logged-out").as_deref(),
            Some("http://127.0.0.1:3000/auth/dev/logged-out")
        );
        assert_eq!(super::beside_callback("http://127.0.0.1:3000/elsewhere", "logged-out"), None);
    }
}
