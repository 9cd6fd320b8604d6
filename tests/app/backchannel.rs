//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0): only a token the
//! provider signed, about itself, for latchkey, is accepted.

use latchkey::latchkey_dev_idp::jwt::Signing;
use latchkey::latchkey_server::provider::logout_token::{BACKCHANNEL_LOGOUT_EVENT, LogoutTokenError, LogoutTokenRule};
use latchkey::latchkey_server::types::ActivityKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_every_backend;
use crate::support::{Backend, Person, TestApp};

fn claims(app: &TestApp, provider: &str) -> Value {
    let config = app.latchkey.config().providers.iter().find(|p| p.id == provider).expect("configured");
    json!({
        "iss": config.issuer.as_str().trim_end_matches('/'),
        "aud": config.client_id,
        "iat": chrono::Utc::now().timestamp(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        "sid": "provider-session-1",
    })
}

async fn verify(app: &TestApp, provider: &str, token: &str) -> Result<Option<String>, LogoutTokenRule> {
    let client = app.latchkey.provider_list().get(provider).expect("configured").clone();
    match client.verify_logout_token(token).await {
        Ok(request) => Ok(request.session),
        Err(LogoutTokenError::Refused(rule)) => Err(rule),
        Err(LogoutTokenError::Provider(error)) => panic!("the provider could not be reached: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_token_is_accepted_only_when_the_provider_signed_it_about_itself() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (dev, dev2) = (&app.dev_idps[0], &app.dev_idps[1]);

    let signed = verify(&app, "dev", &dev.logout_token(Signing::Es256, &claims(&app, "dev"))).await;
    let forged = verify(&app, "dev", &dev.logout_token(Signing::Forged, &claims(&app, "dev"))).await;
    let unsigned = verify(&app, "dev", &dev.logout_token(Signing::AlgNone, &claims(&app, "dev"))).await;
    let keyed_with_public_key =
        verify(&app, "dev", &dev.logout_token(Signing::HmacWithPublicKey, &claims(&app, "dev"))).await;
    let by_another_provider = verify(&app, "dev", &dev2.logout_token(Signing::Es256, &claims(&app, "dev"))).await;
    let about_another_provider = verify(&app, "dev", &dev.logout_token(Signing::Es256, &claims(&app, "dev2"))).await;

    assert_eq!(signed, Ok(Some("provider-session-1".to_string())));
    assert_eq!(forged, Err(LogoutTokenRule::Signature));
    assert_eq!(unsigned, Err(LogoutTokenRule::Signature));
    assert_eq!(keyed_with_public_key, Err(LogoutTokenRule::Signature));
    assert_eq!(by_another_provider, Err(LogoutTokenRule::Signature), "another provider's key");
    assert_eq!(about_another_provider, Err(LogoutTokenRule::Issuer), "the other provider's issuer and client");
}

on_every_backend!(
    a_logout_token_naming_a_provider_session_ends_only_the_session_signed_in_with_it,
    a_logout_token_naming_only_the_subject_ends_every_session_of_that_identity,
    a_replayed_logout_token_is_refused_and_changes_nothing,
    an_invalid_logout_token_is_refused_with_400_and_leaves_every_session_alone,
);

/// Posts a logout token as a provider does: server to server, no cookie, whatever `Origin`.
async fn post_logout_token(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/auth/dev/backchannel-logout"))
        .header("origin", "https://idp.example.test")
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("an answer")
}

fn with(mut claims: Value, changes: Value) -> Value {
    let object = claims.as_object_mut().expect("an object");
    for (name, value) in changes.as_object().expect("an object") {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    claims
}

async fn a_logout_token_naming_a_provider_session_ends_only_the_session_signed_in_with_it(app: TestApp) {
    let (laptop, phone) = (app.browser(), app.browser());
    laptop.sign_in_as(&Person::ada()).await;
    phone.sign_in_as(&Person::ada()).await;
    let laptop_sid = app.dev_idp().issued_sids()[0].clone();
    let token = app.dev_idp().logout_token(Signing::Es256, &with(claims(&app, "dev"), json!({"sid": laptop_sid})));

    let answer = post_logout_token(&app, &token).await;

    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    assert_eq!(laptop.me().await.0, StatusCode::UNAUTHORIZED, "the provider's session ended latchkey's");
    assert_eq!(phone.me().await.0, StatusCode::OK, "another sign-in goes on");
    let activity = app.activity(&phone, 0).await;
    assert_eq!(activity.events[0].kind, ActivityKind::SignedOutByProvider);
    assert_eq!(activity.events[0].provider.as_deref(), Some("Dev provider"));
}

async fn a_logout_token_naming_only_the_subject_ends_every_session_of_that_identity(app: TestApp) {
    let (laptop, phone, someone_else) = (app.browser(), app.browser(), app.browser());
    laptop.sign_in_as(&Person::ada()).await;
    phone.sign_in_as(&Person::ada()).await;
    someone_else.sign_in_as(&Person::new("Grace", "grace@example.com")).await;
    let subject = app.me(&laptop).await.identities[0].subject.clone();
    let token =
        app.dev_idp().logout_token(Signing::Es256, &with(claims(&app, "dev"), json!({"sid": null, "sub": subject})));

    assert_eq!(post_logout_token(&app, &token).await.status(), StatusCode::OK);

    assert_eq!(laptop.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(phone.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(someone_else.me().await.0, StatusCode::OK, "another person's session goes on");
}

async fn a_replayed_logout_token_is_refused_and_changes_nothing(app: TestApp) {
    let first = app.browser();
    first.sign_in_as(&Person::ada()).await;
    let subject = app.me(&first).await.identities[0].subject.clone();
    let token =
        app.dev_idp().logout_token(Signing::Es256, &with(claims(&app, "dev"), json!({"sid": null, "sub": subject})));
    assert_eq!(post_logout_token(&app, &token).await.status(), StatusCode::OK);
    let again = app.browser();
    again.sign_in_as(&Person::ada()).await;

    let replayed = post_logout_token(&app, &token).await;

    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(again.me().await.0, StatusCode::OK, "the replay ended nothing");
}

async fn an_invalid_logout_token_is_refused_with_400_and_leaves_every_session_alone(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let sid = app.dev_idp().issued_sids()[0].clone();
    let valid = with(claims(&app, "dev"), json!({"sid": sid}));
    let dev = app.dev_idp();
    let day_ago = chrono::Utc::now().timestamp() - 24 * 3600;
    let cases = [
        ("bad signature", dev.logout_token(Signing::Forged, &valid)),
        ("alg none", dev.logout_token(Signing::AlgNone, &valid)),
        ("another provider's key", app.dev_idps[1].logout_token(Signing::Es256, &valid)),
        (
            "another provider's token",
            dev.logout_token(Signing::Es256, &with(claims(&app, "dev2"), json!({"sid": sid}))),
        ),
        ("nonce", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"nonce": "n"})))),
        ("no events", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"events": null})))),
        ("wrong event", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"events": {"login": {}}})))),
        ("wrong aud", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"aud": "someone-else"})))),
        ("wrong iss", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"iss": "https://idp.example"})))),
        ("old iat", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"iat": day_ago})))),
        ("neither sub nor sid", dev.logout_token(Signing::Es256, &with(valid.clone(), json!({"sid": null})))),
        ("not a JWT", "not-a-token".to_string()),
    ];

    for (case, token) in cases {
        let answer = post_logout_token(&app, &token).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(browser.me().await.0, StatusCode::OK, "{case}: the session goes on");
    }
    let activity = app.activity(&browser, 0).await;
    assert_eq!(activity.events[0].kind, ActivityKind::SignedIn, "nothing was logged after the sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_request_naming_neither_subject_nor_session_ends_nothing() {
    use latchkey::latchkey_server::provider::logout_token::LogoutRequest;
    use latchkey::latchkey_server::session::LoggedOut;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let nobody = LogoutRequest {
        subject: None,
        session: None,
        token_id: "token".into(),
        remember_until: chrono::Utc::now() + chrono::TimeDelta::minutes(5),
    };

    let outcome = app.latchkey.sessions().end_for_provider("dev", &nobody).await.expect("answered");

    assert_eq!(outcome, LoggedOut::Ended(0));
    assert_eq!(browser.me().await.0, StatusCode::OK, "not every session of the provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_provider_signs_a_person_out_everywhere_with_a_real_logout_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (ada, grace) = (app.browser(), app.browser());
    ada.sign_in_as(&Person::ada()).await;
    grace.sign_in_as(&Person::new("Grace", "grace@example.com")).await;

    let page = reqwest::Client::new()
        .post(app.url("/dev-idp/sign-out"))
        .form(&[("email", Person::ada().email.as_str())])
        .send()
        .await
        .expect("an answer");

    assert!(page.text().await.expect("a page").contains("was signed out everywhere"));
    assert_eq!(ada.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(grace.me().await.0, StatusCode::OK);
}
