//! Every ID token or userinfo answer that fails a check ends the sign-in with an error page,
//! no user and no session.

use std::time::Duration;

use latchkey::latchkey_dev_idp::Misbehaviour;
use reqwest::StatusCode;

use crate::support::{Backend, Options, Person, TestApp, set_cookies};

/// Each case breaks exactly one rule, and the page names that rule.
async fn assert_rejected(app: TestApp, misbehaviour: Misbehaviour, reason: &str) {
    app.misbehave(misbehaviour);
    let browser = app.browser();

    let response = browser.sign_in_as(&Person::ada()).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{misbehaviour:?} is rejected");
    assert!(
        set_cookies(&response).iter().all(|c| !c.starts_with("latchkey_session=")),
        "no session cookie for {misbehaviour:?}"
    );
    let page = response.text().await.expect("an error page");
    assert!(page.contains("We could not verify this sign-in"), "the page says what happened: {page}");
    assert!(page.contains(&format!("Reason: {reason}")), "{misbehaviour:?} is refused for its own reason: {page}");
    assert!(page.contains("Try again"));
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    app.assert_nobody_signed_in().await;
}

macro_rules! rejects {
    ($($name:ident => $misbehaviour:ident, $reason:expr),* $(,)?) => {$(
        async fn $name(app: TestApp) {
            assert_rejected(app, Misbehaviour::$misbehaviour, $reason).await;
        }
        crate::on_every_backend!($name);
    )*};
}

const SIGNATURE: &str = "the ID token is not signed by one of the provider's keys with an allowed algorithm.";
const AUDIENCE: &str = "the ID token was issued for another application, or for others besides latchkey.";
const NONCE: &str = "the ID token does not belong to this sign-in (nonce).";

rejects!(
    a_forged_signature_is_rejected => ForgedSignature, SIGNATURE,
    alg_none_is_rejected => AlgNone, SIGNATURE,
    hmac_keyed_with_the_public_key_is_rejected => HmacWithPublicKey, SIGNATURE,
    a_token_for_another_audience_is_rejected => WrongAudience, AUDIENCE,
    an_untrusted_extra_audience_is_rejected => ExtraAudience, AUDIENCE,
    another_authorized_party_is_rejected => WrongAuthorizedParty,
        "the ID token was issued to another application (azp).",
    a_token_from_another_issuer_is_rejected => WrongIssuer,
        "the ID token was issued by someone other than the provider.",
    an_expired_token_is_rejected => Expired, "the ID token has expired.",
    a_token_issued_in_the_future_is_rejected => IssuedInFuture,
        "the ID token claims to be issued in the future.",
    a_token_issued_too_long_ago_is_rejected => IssuedTooLongAgo, "the ID token was issued too long ago.",
    a_wrong_nonce_is_rejected => WrongNonce, NONCE,
    an_at_hash_of_another_access_token_is_rejected => WrongAccessTokenHash,
        "the ID token was issued with another access token (at_hash).",
    a_missing_nonce_is_rejected => MissingNonce, NONCE,
    userinfo_about_another_subject_is_rejected => UserinfoSubjectMismatch,
        "the provider's userinfo answer does not match the ID token.",
    an_iss_parameter_naming_another_issuer_is_rejected => WrongIssParameter,
        "the provider's answer is not what OpenID Connect requires (for example, an `iss` naming another issuer).",
    a_code_the_provider_refuses_is_rejected => TokenEndpointError, "the provider refused the sign-in code.",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_provider_keys_are_fetched_once_and_sign_in_still_works() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options { jwks_refetch_interval: Some(Duration::ZERO), ..Default::default() },
    )
    .await;
    app.browser().sign_in_as(&Person::ada()).await;
    let fetches_before = app.dev_idp().jwks_fetch_count();

    app.dev_idp().rotate_signing_key();
    let browser = app.browser();
    let response = browser.sign_in_as(&Person::ada()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a token signed with the new key is accepted");
    assert_eq!(browser.me().await.0, StatusCode::OK);
    assert_eq!(app.dev_idp().jwks_fetch_count(), fetches_before + 1, "the JWKS was fetched again exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_ids_cannot_make_latchkey_hammer_the_provider() {
    // Keys were just fetched, and the refetch interval (an hour here, so that no clock decides
    // the outcome) has not passed: unknown keys are refused without another fetch.
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options { jwks_refetch_interval: Some(Duration::from_secs(3600)), ..Default::default() },
    )
    .await;
    app.browser().sign_in_as(&Person::ada()).await;
    let fetches_before = app.dev_idp().jwks_fetch_count();
    app.dev_idp().rotate_signing_key();

    for _ in 0..3 {
        let response = app.browser().sign_in_as(&Person::ada()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    assert_eq!(app.dev_idp().jwks_fetch_count(), fetches_before, "no JWKS fetch within the refetch interval");
    assert_eq!(app.sessions().await, 1, "only the first sign-in has a session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_provider_retired_stops_being_trusted_once_its_key_set_may_be_cached_no_longer() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        Options { jwks_refetch_interval: Some(Duration::ZERO), ..Default::default() },
    )
    .await;
    app.dev_idp().set_jwks_max_age(Some(1));
    app.browser().sign_in_as(&Person::ada()).await;
    app.dev_idp().rotate_signing_key();
    app.misbehave(Misbehaviour::SignWithRetiredKey);

    // The provider said its key set may be kept one second; discovery itself lasts a day.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let response = app.browser().sign_in_as(&Person::ada()).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a token signed with the retired key is refused");
    assert_eq!(app.sessions().await, 1, "only the first sign-in has a session");
}
