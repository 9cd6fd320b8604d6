//! The provider kinds against local fakes of Google, Microsoft and GitHub: who is accepted,
//! who is refused, and which identity (issuer, subject) a sign-in lands on.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::github::{self, Account, FakeGitHub};
use crate::fakes::oidc::FakeOidc;
use crate::fakes::{ProviderApp, assert_refused, assert_signed_in};

const TENANT_A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const TENANT_B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";
const OID: &str = "00000000-0000-0000-0000-0000000000ad";

fn with_settings(mut variables: Vec<(String, String)>, id: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    variables.extend(extra.iter().map(|(field, value)| (format!("LATCHKEY_PROVIDER_{id}_{field}"), value.to_string())));
    variables
}

fn identity_keys(
    identities: &[latchkey::latchkey_server::storage::entities::identity::Model],
) -> Vec<(String, String)> {
    let mut keys: Vec<_> = identities.iter().map(|i| (i.issuer.clone(), i.subject.clone())).collect();
    keys.sort();
    keys
}

// ----- Google -----

async fn google(extra: &[(&str, &str)]) -> (FakeOidc, ProviderApp) {
    let fake = FakeOidc::google().await;
    let app = ProviderApp::spawn(with_settings(fake.variables("GOOGLE", "google"), "GOOGLE", extra)).await;
    (fake, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_accepts_both_spellings_of_its_issuer_as_one_identity() {
    let (google, app) = google(&[]).await;
    let issuer = google.issuer();
    let without_scheme = issuer.strip_prefix("http://").expect("an http issuer").to_string();

    google.next_sign_in(
        json!({"iss": issuer, "sub": "1089", "email": "ada@gmail.test", "email_verified": true, "name": "Ada"}),
    );
    let first = app.browser();
    let me = assert_signed_in(&first, first.sign_in("google").await).await;
    assert_eq!(me["accounts"][0]["provider"], "google");
    assert_eq!(me["accounts"][0]["email_verified"], true);

    google
        .next_sign_in(json!({"iss": without_scheme, "sub": "1089", "email": "ada@gmail.test", "email_verified": true}));
    let second = app.browser();
    let me_again = assert_signed_in(&second, second.sign_in("google").await).await;

    assert_eq!(me_again["user"]["id"], me["user"]["id"], "both spellings are the same Google account");
    assert_eq!(app.users().await, 1);
    assert_eq!(identity_keys(&app.identities().await), [(issuer, "1089".to_string())], "stored under the issuer URL");
    google.problems().assert_none();
}

/// Userinfo only fills gaps in the ID token: with the name, the email and the picture in it
/// (Google's, with the `profile` scope) the provider is not asked; without the picture it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_is_asked_only_for_what_the_id_token_lacks() {
    let (google, app) = google(&[]).await;
    let issuer = google.issuer();
    google.next_sign_in(json!({
        "iss": issuer, "sub": "1089", "email": "ada@gmail.test", "email_verified": true, "name": "Ada",
        "picture": "https://pictures.test/ada.png",
    }));
    let ada = app.browser();
    assert_signed_in(&ada, ada.sign_in("google").await).await;
    let pictures: Vec<_> = app.identities().await.into_iter().map(|identity| identity.picture).collect();
    assert_eq!(pictures, [Some("https://pictures.test/ada.png".to_string())]);
    assert_eq!(google.userinfo_requests(), 0, "the ID token said everything");

    google.next_sign_in(
        json!({"iss": issuer, "sub": "1090", "email": "bob@gmail.test", "email_verified": true, "name": "Bob"}),
    );
    let bob = app.browser();
    assert_signed_in(&bob, bob.sign_in("google").await).await;
    assert_eq!(google.userinfo_requests(), 1, "asked for the picture the ID token lacks");
    google.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_refuses_tokens_from_another_issuer() {
    let (google, app) = google(&[]).await;
    let other_port = "http://127.0.0.1:1".to_string();
    let lookalike = format!("{}.evil.example", google.issuer().trim_start_matches("http://"));
    // The real Google's spellings are someone else here: the issuer is overridden.
    for iss in ["https://accounts.google.com", "accounts.google.com", &other_port, &lookalike] {
        google.next_sign_in(json!({"iss": iss, "sub": "1089", "email": "ada@gmail.test", "email_verified": true}));
        let browser = app.browser();
        let page = assert_refused(&browser, browser.sign_in("google").await, StatusCode::BAD_REQUEST).await;
        assert!(page.contains("We could not verify this sign-in"), "`{iss}` is refused: {page}");
    }
    app.assert_nobody_signed_in().await;
    google.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_refuses_accounts_outside_the_allowed_domains() {
    let (google, app) = google(&[("ALLOWED_DOMAINS", "example.com")]).await;
    let authorize = app.browser().start("google").await;
    let hint = authorize.query_pairs().find(|(name, _)| name == "hd").map(|(_, value)| value.into_owned());
    assert_eq!(hint.as_deref(), Some("example.com"), "the account chooser gets a hint");

    // The hint is only a hint: the server checks `hd` in the ID token.
    for hd in [json!("evil.example"), json!("example.com.evil.example"), Value::Null] {
        google.next_sign_in(json!({"sub": "7", "email": "ada@evil.example", "email_verified": true, "hd": hd}));
        let browser = app.browser();
        assert_refused(&browser, browser.sign_in("google").await, StatusCode::BAD_REQUEST).await;
    }
    app.assert_nobody_signed_in().await;

    google.next_sign_in(json!({"sub": "7", "email": "ada@example.com", "email_verified": true, "hd": "example.com"}));
    let browser = app.browser();
    assert_signed_in(&browser, browser.sign_in("google").await).await;
    assert_eq!(app.users().await, 1);
    google.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_asks_for_offline_access_only_beyond_sign_in_scopes() {
    let query = |url: &url::Url, name: &str| url.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned());

    // One app at a time (see `support::one_app_at_a_time`): the first goes before the second.
    {
        let (_google, app) = google(&[]).await;
        let authorize = app.browser().start("google").await;
        assert_eq!(query(&authorize, "access_type"), None);
        assert_eq!(query(&authorize, "prompt"), None);
        assert_eq!(query(&authorize, "code_challenge_method").as_deref(), Some("S256"));
    }

    let (_google, app) =
        google(&[("SCOPES", "openid email profile https://www.googleapis.com/auth/calendar.readonly")]).await;
    let authorize = app.browser().start("google").await;
    assert_eq!(query(&authorize, "access_type").as_deref(), Some("offline"));
    assert_eq!(query(&authorize, "prompt").as_deref(), Some("consent"));
}

// ----- Microsoft -----

async fn microsoft(extra: &[(&str, &str)]) -> (FakeOidc, ProviderApp) {
    let fake = FakeOidc::microsoft_multi_tenant().await;
    let app = ProviderApp::spawn(with_settings(fake.variables("MS", "microsoft"), "MS", extra)).await;
    (fake, app)
}

/// An ID token from tenant `tid` whose `iss` is that tenant's.
fn from_tenant(fake: &FakeOidc, tid: &str, claims: Value) -> Value {
    let mut token = json!({"iss": fake.tenant_issuer(tid), "tid": tid, "oid": OID, "sub": "pairwise-subject"});
    for (name, value) in claims.as_object().cloned().unwrap_or_default() {
        token[name] = value;
    }
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_the_same_email_from_another_tenant_is_a_different_user() {
    let (microsoft, app) = microsoft(&[]).await;

    // Ada, in tenant A, whose domain Microsoft verified (`xms_edov`).
    microsoft.next_sign_in(from_tenant(
        &microsoft,
        TENANT_A,
        json!({"email": "ada@contoso.test", "xms_edov": true, "name": "Ada"}),
    ));
    let ada = app.browser();
    let me_ada = assert_signed_in(&ada, ada.sign_in("ms").await).await;
    assert_eq!(me_ada["accounts"][0]["subject"], OID, "the subject is the object id");
    assert_eq!(me_ada["accounts"][0]["email_verified"], true);

    // Mallory administers tenant B and gives her account Ada's email ("nOAuth"); even `sub`
    // and `oid` are made equal to Ada's.
    microsoft.next_sign_in(from_tenant(
        &microsoft,
        TENANT_B,
        json!({"email": "ada@contoso.test", "preferred_username": "ada@contoso.test", "name": "Mallory"}),
    ));
    let mallory = app.browser();
    let me_mallory = assert_signed_in(&mallory, mallory.sign_in("ms").await).await;

    assert_ne!(me_mallory["user"]["id"], me_ada["user"]["id"], "tenant B's account is not Ada's");
    assert_eq!(me_mallory["accounts"][0]["email_verified"], false, "Microsoft emails are unverified unless proven");
    assert_eq!(app.users().await, 2);
    assert_eq!(
        identity_keys(&app.identities().await),
        [(microsoft.tenant_issuer(TENANT_A), OID.to_string()), (microsoft.tenant_issuer(TENANT_B), OID.to_string())],
        "identities are keyed by (tenant, object id)"
    );
    // Ada still signs in to her own account.
    let ada_again = app.browser();
    microsoft.next_sign_in(from_tenant(&microsoft, TENANT_A, json!({"email": "ada@contoso.test", "xms_edov": true})));
    let me = assert_signed_in(&ada_again, ada_again.sign_in("ms").await).await;
    assert_eq!(me["user"]["id"], me_ada["user"]["id"]);
    microsoft.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_refuses_an_issuer_that_is_not_the_tokens_tenant() {
    let (microsoft, app) = microsoft(&[]).await;
    let cases = [
        // Tenant A's issuer on a token from tenant B.
        from_tenant(&microsoft, TENANT_B, json!({"iss": microsoft.tenant_issuer(TENANT_A)})),
        // The discovery document's template itself.
        from_tenant(&microsoft, TENANT_B, json!({"iss": microsoft.tenant_issuer("{tenantid}")})),
        // The endpoint's URL.
        from_tenant(&microsoft, TENANT_B, json!({"iss": microsoft.issuer()})),
        // No tenant at all.
        from_tenant(&microsoft, TENANT_B, json!({"tid": null})),
        // A tenant id that is no tenant id.
        from_tenant(&microsoft, "common", json!({})),
        // No object id: `sub` alone never identifies a Microsoft account.
        from_tenant(&microsoft, TENANT_B, json!({"oid": null})),
    ];
    for claims in cases {
        microsoft.next_sign_in(claims.clone());
        let browser = app.browser();
        let page = assert_refused(&browser, browser.sign_in("ms").await, StatusCode::BAD_REQUEST).await;
        assert!(page.contains("We could not verify this sign-in"), "{claims} is refused: {page}");
    }
    app.assert_nobody_signed_in().await;
    microsoft.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_only_allowed_tenants_sign_in() {
    let (microsoft, app) = microsoft(&[("ALLOWED_TENANTS", TENANT_A)]).await;

    microsoft.next_sign_in(from_tenant(&microsoft, TENANT_B, json!({"email": "bob@fabrikam.test"})));
    let outsider = app.browser();
    assert_refused(&outsider, outsider.sign_in("ms").await, StatusCode::BAD_REQUEST).await;
    app.assert_nobody_signed_in().await;

    microsoft.next_sign_in(from_tenant(&microsoft, TENANT_A, json!({"email": "ada@contoso.test"})));
    let member = app.browser();
    assert_signed_in(&member, member.sign_in("ms").await).await;
    assert_eq!(app.users().await, 1);
    microsoft.problems().assert_none();
}

// ----- GitHub -----

async fn github() -> (FakeGitHub, ProviderApp) {
    let fake = FakeGitHub::start().await;
    let app = ProviderApp::spawn(fake.variables("GH")).await;
    (fake, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_identity_is_the_numeric_id_not_the_login() {
    let (github, app) = github().await;
    let verified = json!([{"email": "octocat@github.test", "primary": true, "verified": true, "visibility": "public"}]);

    github.next_sign_in(Account::new(583231, "octocat", Some("octocat@github.test"), verified.clone()));
    let first = app.browser();
    let me = assert_signed_in(&first, first.sign_in("gh").await).await;
    assert_eq!(me["accounts"][0]["provider"], "gh");
    assert_eq!(me["accounts"][0]["subject"], "583231");
    assert_eq!(me["accounts"][0]["email"], "octocat@github.test");
    assert_eq!(me["accounts"][0]["email_verified"], true, "a verified primary address is verified");

    // The same account after a rename is the same user.
    github.next_sign_in(Account::new(583231, "octocat-renamed", Some("octocat@github.test"), verified));
    let renamed = app.browser();
    let me_renamed = assert_signed_in(&renamed, renamed.sign_in("gh").await).await;
    assert_eq!(me_renamed["user"]["id"], me["user"]["id"]);

    // Someone else who then registered the freed login is someone else.
    github.next_sign_in(Account::new(9_000_001, "octocat", None, json!([])));
    let squatter = app.browser();
    let me_squatter = assert_signed_in(&squatter, squatter.sign_in("gh").await).await;
    assert_ne!(me_squatter["user"]["id"], me["user"]["id"]);

    assert_eq!(app.users().await, 2);
    assert_eq!(
        identity_keys(&app.identities().await),
        [(github.api_url(), "583231".to_string()), (github.api_url(), "9000001".to_string())]
    );
    github.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_an_unverified_primary_email_is_stored_unverified() {
    let (github, app) = github().await;
    github.next_sign_in(Account::new(
        42,
        "grace",
        Some("grace@public.test"),
        json!([
            {"email": "grace@verified.test", "primary": false, "verified": true, "visibility": null},
            {"email": "grace@primary.test", "primary": true, "verified": false, "visibility": "private"},
        ]),
    ));
    let browser = app.browser();
    let me = assert_signed_in(&browser, browser.sign_in("gh").await).await;

    assert_eq!(me["accounts"][0]["email"], "grace@primary.test", "the primary address");
    assert_eq!(me["accounts"][0]["email_verified"], false);
    let identities = app.identities().await;
    assert_eq!(identities[0].email.as_deref(), Some("grace@primary.test"));
    assert!(!identities[0].email_verified, "stored unverified");
    github.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_a_user_without_any_email_signs_in() {
    let (github, app) = github().await;
    github.next_sign_in(Account::new(77, "private-person", None, json!([])));
    let browser = app.browser();
    let me = assert_signed_in(&browser, browser.sign_in("gh").await).await;

    assert_eq!(me["accounts"][0]["subject"], "77");
    assert_eq!(me["accounts"][0]["email"], Value::Null);
    assert_eq!(me["accounts"][0]["email_verified"], false);
    assert_eq!(me["user"]["name"], "private-person (GitHub)");
    assert_eq!(app.users().await, 1);
    github.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_without_access_to_the_email_list_signs_in_with_the_public_email_unverified() {
    let (github, app) = github().await;
    github.misbehave(github::Misbehaviour::EmailsForbidden);
    github.next_sign_in(Account::new(
        5,
        "app-user",
        Some("public@example.test"),
        json!([{"email": "public@example.test", "primary": true, "verified": true}]),
    ));
    let browser = app.browser();
    let me = assert_signed_in(&browser, browser.sign_in("gh").await).await;

    assert_eq!(me["accounts"][0]["email"], "public@example.test");
    assert_eq!(me["accounts"][0]["email_verified"], false, "nobody said it is verified");
    github.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_token_requests_ask_for_json() {
    let (github, app) = github().await;
    let browser = app.browser();
    assert_signed_in(&browser, browser.sign_in("gh").await).await;

    // The fake also checked PKCE, client_secret_basic and the API headers (problems below).
    assert_eq!(github.token_accept_headers(), ["application/json"]);
    github.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_answers_are_not_trusted_blindly() {
    let (github, app) = github().await;
    let cases = [
        (github::Misbehaviour::RefuseCode, StatusCode::BAD_REQUEST),
        (github::Misbehaviour::UserWithoutId, StatusCode::BAD_REQUEST),
        (github::Misbehaviour::UserWithStringId, StatusCode::BAD_REQUEST),
        (github::Misbehaviour::EmailsNotJson, StatusCode::BAD_REQUEST),
        (github::Misbehaviour::ApiDown, StatusCode::BAD_GATEWAY),
    ];
    for (misbehaviour, status) in cases {
        github.misbehave(misbehaviour);
        let browser = app.browser();
        let response = browser.sign_in("gh").await;
        assert_eq!(response.status(), status, "{misbehaviour:?}");
        assert_refused(&browser, response, status).await;
    }
    app.assert_nobody_signed_in().await;
    github.problems().assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_an_iss_parameter_naming_someone_else_is_refused() {
    let (github, app) = github().await;
    github.send_iss_parameter("https://evil.example");
    let browser = app.browser();
    assert_refused(&browser, browser.sign_in("gh").await, StatusCode::BAD_REQUEST).await;
    app.assert_nobody_signed_in().await;
    github.problems().assert_none();
}

// ----- Trusted emails -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_provider_links_only_onto_an_email_that_a_trusted_provider_vouched_for() {
    let loose = FakeOidc::google().await;
    let corp = FakeOidc::google().await;
    let mut variables = loose.variables("LOOSE", "oidc");
    variables.extend(with_settings(corp.variables("CORP", "oidc"), "CORP", &[("TRUST_EMAIL", "true")]));
    let app = ProviderApp::spawn(variables).await;
    // First, someone signs up through a provider that vouches for whatever email it is given.
    loose.next_sign_in(json!({"sub": "mallory", "email": "ceo@corp.example", "email_verified": true}));
    let mallory = app.browser();
    assert_signed_in(&mallory, mallory.sign_in("loose").await).await;

    // Then the real owner of the address signs in through the provider trusted for it.
    corp.next_sign_in(json!({"sub": "ceo", "email": "ceo@corp.example", "email_verified": true}));
    let ceo = app.browser();
    let response = ceo.sign_in("corp").await;

    assert_eq!(response.status(), StatusCode::CONFLICT, "offered to link by signing in first, not linked");
    assert_eq!(ceo.me().await.0, StatusCode::UNAUTHORIZED, "not signed in to Mallory's account");
    assert_eq!(app.identities().await.len(), 1, "nothing was attached to Mallory's account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_provider_links_onto_an_email_another_trusted_provider_vouched_for() {
    let corp = FakeOidc::google().await;
    let partner = FakeOidc::google().await;
    let mut variables = with_settings(corp.variables("CORP", "oidc"), "CORP", &[("TRUST_EMAIL", "true")]);
    variables.extend(with_settings(partner.variables("PARTNER", "oidc"), "PARTNER", &[("TRUST_EMAIL", "true")]));
    let app = ProviderApp::spawn(variables).await;
    corp.next_sign_in(json!({"sub": "ceo", "email": "ceo@corp.example", "email_verified": true}));
    let first = app.browser();
    let owner = assert_signed_in(&first, first.sign_in("corp").await).await;

    partner.next_sign_in(json!({"sub": "ceo-at-partner", "email": "ceo@corp.example", "email_verified": true}));
    let second = app.browser();
    let linked = assert_signed_in(&second, second.sign_in("partner").await).await;

    assert_eq!(linked["user"]["id"], owner["user"]["id"], "linked automatically onto the same account");
    assert_eq!(app.users().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_deletes_the_github_grant_even_when_github_fails_to() {
    for github_fails in [false, true] {
        let (github, app) = github().await;
        github.next_sign_in(Account::new(7, "ada", Some("ada@example.test"), json!([])));
        let browser = app.browser();
        assert_signed_in(&browser, browser.sign_in("gh").await).await;
        if github_fails {
            github.misbehave(github::Misbehaviour::GrantDeletionFails);
        }

        let deleted = browser
            .client
            .post(app.base.join("/api/delete_account").expect("a URL"))
            .header("origin", app.base.origin().ascii_serialization())
            .header("accept", "application/json")
            .send()
            .await
            .expect("an answer");

        assert_eq!(deleted.status(), StatusCode::OK, "deleted (GitHub failing: {github_fails})");
        assert_eq!(github.deleted_grants().len(), 1, "latchkey asked GitHub to forget its grant");
        assert_eq!(app.users().await, 0, "the account is gone whatever GitHub answered");
        github.problems().assert_none();
    }
}

// ----- Discovery -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_endpoint_without_https_off_loopback_is_refused() {
    use axum::routing::get;
    // A discovery document that would do, but sends the token request (and the client secret)
    // over plain http to another host.
    let real = FakeOidc::google().await;
    let (listener, issuer) = crate::fakes::listen().await;
    let mut document: Value = reqwest::get(format!("{}/.well-known/openid-configuration", real.issuer()))
        .await
        .expect("the fake's discovery")
        .json()
        .await
        .expect("JSON");
    document["issuer"] = json!(issuer);
    document["token_endpoint"] = json!("http://tokens.example.test/token");
    let router = axum::Router::new()
        .route("/.well-known/openid-configuration", get(move || async move { axum::Json(document) }));
    crate::fakes::serve(listener, router).await;
    let mut variables = real.variables("CORP", "oidc");
    for (name, value) in &mut variables {
        if name.ends_with("_ISSUER") {
            *value = issuer.clone();
        }
    }
    let app = ProviderApp::spawn(variables).await;

    let response = app.browser().get(&app.base.join("/auth/corp/login").expect("a URL")).await;

    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "the provider is not used");
    app.assert_nobody_signed_in().await;
}
