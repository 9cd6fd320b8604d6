//! Every ID token or userinfo answer that fails a check ends the sign-in with an error page,
//! no user and no session.

use std::time::Duration;

use latchkey::latchkey_dev_idp::Misbehaviour;
use reqwest::StatusCode;

use crate::support::{Backend, Options, Person, TestApp, set_cookies};

async fn assert_rejected(app: TestApp, misbehaviour: Misbehaviour) {
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
    assert!(page.contains("Try again"));
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    app.assert_nobody_signed_in().await;
}

macro_rules! rejects {
    ($($name:ident => $misbehaviour:ident),* $(,)?) => {$(
        async fn $name(app: TestApp) {
            assert_rejected(app, Misbehaviour::$misbehaviour).await;
        }
        crate::on_every_backend!($name);
    )*};
}

rejects!(
    a_forged_signature_is_rejected => ForgedSignature,
    alg_none_is_rejected => AlgNone,
    hmac_keyed_with_the_public_key_is_rejected => HmacWithPublicKey,
    a_token_for_another_audience_is_rejected => WrongAudience,
    an_untrusted_extra_audience_is_rejected => ExtraAudience,
    another_authorized_party_is_rejected => WrongAuthorizedParty,
    a_token_from_another_issuer_is_rejected => WrongIssuer,
    an_expired_token_is_rejected => Expired,
    a_token_issued_in_the_future_is_rejected => IssuedInFuture,
    a_wrong_nonce_is_rejected => WrongNonce,
    a_missing_nonce_is_rejected => MissingNonce,
    userinfo_about_another_subject_is_rejected => UserinfoSubjectMismatch,
    an_iss_parameter_naming_another_issuer_is_rejected => WrongIssParameter,
    a_code_the_provider_refuses_is_rejected => TokenEndpointError,
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
    // Default refetch interval (10 s): keys were just fetched, so unknown keys are refused
    // without another fetch.
    let app = TestApp::spawn(Backend::Sqlite).await;
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
