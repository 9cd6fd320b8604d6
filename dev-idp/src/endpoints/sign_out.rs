//! "Sign this person out everywhere": the development provider ends a person's sessions at its
//! client the way a real provider does, with a signed back-channel logout token posted to the
//! client's back-channel logout URL (OpenID Connect Back-Channel Logout 1.0).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::authorize::html;
use crate::jwt::Signing;
use crate::pages;
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
    let outcome = match backchannel_logout_url(&idp.client().redirect_uri) {
        Some(url) => match reqwest::Client::new().post(url).form(&[("logout_token", token)]).send().await {
            Ok(answer) if answer.status().is_success() => format!("{email} was signed out everywhere."),
            Ok(answer) => format!("The client refused the logout token (HTTP {}).", answer.status().as_u16()),
            Err(error) => format!("The client could not be reached: {error}."),
        },
        None => "The client's redirect URI does not end in /callback, so its logout URL is unknown.".to_string(),
    };
    html(StatusCode::OK, pages::sign_out_page(idp.client().client_id.as_str(), Some(&outcome)))
}

/// latchkey's back-channel logout URL for a provider sits beside its callback:
/// `{public}/auth/{id}/callback` → `{public}/auth/{id}/backchannel-logout`.
fn backchannel_logout_url(redirect_uri: &str) -> Option<String> {
    redirect_uri.strip_suffix("/callback").map(|base| format!("{base}/backchannel-logout"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_logout_url_sits_beside_the_callback() {
        assert_eq!(
            super::backchannel_logout_url("http://127.0.0.1:3000/auth/dev/callback").as_deref(),
            Some("http://127.0.0.1:3000/auth/dev/backchannel-logout")
        );
        assert_eq!(super::backchannel_logout_url("http://127.0.0.1:3000/elsewhere"), None);
    }
}
