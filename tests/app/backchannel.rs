//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0): only a token the
//! provider signed, about itself, for latchkey, is accepted.

use latchkey::latchkey_dev_idp::jwt::Signing;
use latchkey::latchkey_server::provider::logout_token::{BACKCHANNEL_LOGOUT_EVENT, LogoutTokenError, LogoutTokenRule};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp};

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
