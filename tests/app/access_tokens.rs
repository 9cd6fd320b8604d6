//! latchkey's own access tokens: `POST /api/token` issues an RFC 9068 JWT signed with Ed25519,
//! `/.well-known/jwks.json` publishes the keys that check it, and `/api/me` accepts it as a
//! bearer token. The tests check tokens the way another service would: with the JWKS alone.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Utc;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use latchkey::latchkey_server::storage::entities::signing_key;
use latchkey::latchkey_server::tokens::{Sealed, TokenColumn};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::on_every_backend;
use crate::support::{Browser, Person, TestApp};

on_every_backend!(
    a_signed_in_session_gets_an_access_token_that_the_published_keys_verify,
    api_me_accepts_a_valid_bearer_token_without_a_cookie,
    api_me_refuses_every_token_that_is_not_latchkeys_and_valid,
    a_retired_key_stays_published_until_its_last_token_has_expired,
);

async fn issue(browser: &Browser) -> reqwest::Response {
    browser.post_here("/api/token", &[]).await
}

/// An access token for the browser's session.
pub async fn issued_token(browser: &Browser) -> String {
    let answer = issue(browser).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.expect("JSON");
    body["access_token"].as_str().expect("a token").to_string()
}

async fn jwks(app: &TestApp) -> Value {
    reqwest::get(app.url("/.well-known/jwks.json")).await.expect("an answer").json().await.expect("JSON")
}

fn part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("a compact JWS");
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("JSON")
}

/// Checks a token's signature as another service would: the `kid`'s key from the JWKS.
fn verifies_with(jwks: &Value, token: &str) -> bool {
    let kid = part(token, 0)["kid"].clone();
    let Some(jwk) = jwks["keys"].as_array().and_then(|keys| keys.iter().find(|key| key["kid"] == kid)) else {
        return false;
    };
    let x: [u8; 32] = B64.decode(jwk["x"].as_str().expect("x")).expect("base64url").try_into().expect("32 bytes");
    let (signing_input, signature) = token.rsplit_once('.').expect("a compact JWS");
    let signature = Signature::from_slice(&B64.decode(signature).expect("base64url")).expect("64 bytes");
    VerifyingKey::from_bytes(&x).expect("a key").verify_strict(signing_input.as_bytes(), &signature).is_ok()
}

async fn bearer_me(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new().get(app.url("/api/me")).bearer_auth(token).send().await.expect("an answer")
}

fn public_url(app: &TestApp) -> String {
    app.base.as_str().trim_end_matches('/').to_string()
}

async fn a_signed_in_session_gets_an_access_token_that_the_published_keys_verify(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;

    let answer = issue(&browser).await;

    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600, "ten minutes by default");
    let token = body["access_token"].as_str().expect("a token");
    let (header, claims) = (part(token, 0), part(token, 1));
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["iss"], public_url(&app));
    assert_eq!(claims["aud"], public_url(&app));
    assert_eq!(claims["sub"], browser.me().await.1["user"]["id"], "the id /api/me shows");
    assert_eq!(claims["sid"], app.session(&browser).await.record.id.as_str());
    assert_eq!(claims["client_id"], public_url(&app));
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 600);
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    let keys = jwks(&app).await;
    assert!(verifies_with(&keys, token), "the published key verifies it");
    let second = issued_token(&browser).await;
    assert_ne!(part(&second, 1)["jti"], claims["jti"], "each token has its own id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_needs_a_session_a_same_site_post_and_nothing_else() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    let anonymous = issue(&browser).await;
    browser.sign_in_as(&Person::ada()).await;

    let cross_site = browser.post_from("https://evil.example", "/api/token", &[]).await;
    let get = browser.get("/api/token").await;

    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwks_publishes_only_public_keys_and_may_be_cached_briefly() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;

    let answer = reqwest::get(app.url("/.well-known/jwks.json")).await.expect("an answer");

    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "public, max-age=300");
    let keys: Value = answer.json().await.expect("JSON");
    let keys = keys["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 2, "this period's key and the next, published ahead of use");
    for key in keys {
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
        assert!(key.get("d").is_none(), "never a private part: {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_signs_with_the_same_key_and_accepts_the_others_tokens() {
    let app = TestApp::spawn(crate::support::Backend::Sqlite).await;
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let session = app.session(&browser).await;
    let second = app.second_instance().await;

    let here = app.latchkey.access_tokens().issue(&session).await.expect("issued").access_token;
    let there = second.access_tokens().issue(&session).await.expect("issued").access_token;

    assert_eq!(part(&here, 0)["kid"], part(&there, 0)["kid"]);
    assert!(second.access_tokens().verify(&here).await.is_ok());
    assert!(app.latchkey.access_tokens().verify(&there).await.is_ok());
}

async fn api_me_accepts_a_valid_bearer_token_without_a_cookie(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let token = issued_token(&browser).await;

    let answer = bearer_me(&app, &token).await;

    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body, browser.me().await.1, "the same JSON as with the cookie");
}

/// This period's signing key, opened, as someone holding it could use it.
async fn current_signing_key(app: &TestApp) -> (String, SigningKey) {
    let now = Utc::now();
    let row = signing_key::Entity::find()
        .filter(signing_key::Column::SlotStart.lte(now))
        .filter(signing_key::Column::SignsUntil.gt(now))
        .one(&app.db)
        .await
        .expect("query")
        .expect("a signing key");
    let sealed = Sealed { key_id: row.key_id.clone(), ciphertext: row.private_key.clone() };
    let opened = app.latchkey.tokens().cipher().open(&sealed, &row.kid, TokenColumn::SigningKey).expect("it opens");
    let bytes: [u8; 32] = B64.decode(opened).expect("base64url").try_into().expect("32 bytes");
    (row.kid, SigningKey::from_bytes(&bytes))
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    format!("{input}.{}", B64.encode(key.sign(input.as_bytes()).to_bytes()))
}

fn with(mut value: Value, changes: Value) -> Value {
    for (name, change) in changes.as_object().expect("an object") {
        match change {
            Value::Null => value.as_object_mut().expect("an object").remove(name),
            _ => value.as_object_mut().expect("an object").insert(name.clone(), change.clone()),
        };
    }
    value
}

async fn api_me_refuses_every_token_that_is_not_latchkeys_and_valid(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let valid = issued_token(&browser).await;
    let (kid, key) = current_signing_key(&app).await;
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
    let claims = part(&valid, 1);
    let now = Utc::now().timestamp();
    let forger = SigningKey::from_bytes(&[9; 32]);
    let (signing_input, _) = valid.rsplit_once('.').expect("a JWS");
    let other_audience = app.instance_with(&[("LATCHKEY_TOKEN_AUDIENCE", "https://api.example".to_string())]).await;
    let session = app.session(&browser).await;
    let for_another_audience = other_audience.access_tokens().issue(&session).await.expect("issued").access_token;
    let cases = [
        ("signed with another key", sign(&forger, &header, &claims)),
        ("alg none", format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"at+jwt"}"#), B64.encode(claims.to_string()))),
        (
            "tampered claims",
            format!(
                "{}.{}.{}",
                B64.encode(header.to_string()),
                B64.encode(with(claims.clone(), json!({"sub": "someone-else"})).to_string()),
                valid.rsplit('.').next().expect("sig")
            ),
        ),
        ("no signature", format!("{signing_input}.")),
        ("expired", sign(&key, &header, &with(claims.clone(), json!({"iat": now - 1200, "exp": now - 600})))),
        ("another issuer", sign(&key, &header, &with(claims.clone(), json!({"iss": "https://elsewhere.example"})))),
        ("another audience", for_another_audience),
        ("an ID token's typ", sign(&key, &with(header.clone(), json!({"typ": "JWT"})), &claims)),
        ("an unknown kid", sign(&key, &with(header.clone(), json!({"kid": "unknown"})), &claims)),
        ("a user that does not exist", sign(&key, &header, &with(claims.clone(), json!({"sub": "no-such-user"})))),
        ("not a JWT", "garbage".to_string()),
    ];

    for (case, token) in cases {
        let answer = bearer_me(&app, &token).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(answer.headers()["www-authenticate"], r#"Bearer error="invalid_token""#, "{case}");
    }
    assert_eq!(bearer_me(&app, &valid).await.status(), StatusCode::OK, "the real one still works");
    app.latchkey.accounts().delete(&session).await.expect("the account is deleted");
    assert_eq!(bearer_me(&app, &valid).await.status(), StatusCode::UNAUTHORIZED, "its user is gone");
}

async fn a_retired_key_stays_published_until_its_last_token_has_expired(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let token = issued_token(&browser).await;
    // As if this key's period ended a minute ago: its tokens may live up to 15 minutes more.
    let now = Utc::now();
    let (kid, _) = current_signing_key(&app).await;
    let next_period: Vec<_> =
        signing_key::Entity::find().order_by_asc(signing_key::Column::SlotStart).all(&app.db).await.expect("query");
    for row in &next_period {
        let shift = if row.kid == kid { chrono::TimeDelta::days(30) } else { chrono::TimeDelta::zero() };
        signing_key::Entity::update(signing_key::ActiveModel {
            kid: sea_orm::Set(row.kid.clone()),
            slot_start: sea_orm::Set(row.slot_start - shift - chrono::TimeDelta::days(400)),
            signs_until: sea_orm::Set(now - chrono::TimeDelta::minutes(1)),
            published_until: sea_orm::Set(if row.kid == kid {
                now + chrono::TimeDelta::minutes(15)
            } else {
                now - chrono::TimeDelta::seconds(1)
            }),
            ..Default::default()
        })
        .exec(&app.db)
        .await
        .expect("update");
    }
    let after_rotation = app.second_instance().await;

    let new_token =
        after_rotation.access_tokens().issue(&app.session(&browser).await).await.expect("issued").access_token;
    let published =
        serde_json::from_str::<Value>(&after_rotation.access_tokens().jwks().await.expect("jwks")).expect("JSON");

    assert_ne!(part(&new_token, 0)["kid"], kid.as_str(), "a new key signs");
    assert!(verifies_with(&published, &token), "the retired key is still published");
    assert!(verifies_with(&published, &new_token));
    assert!(after_rotation.access_tokens().verify(&token).await.is_ok(), "its tokens are still accepted");
    let swept = after_rotation.sweeper().sweep().await.expect("the sweep runs");
    assert_eq!(swept.signing_keys, 1, "the key whose publication ended is deleted; the retired one stays");
    assert!(signing_key::Entity::find_by_id(kid).one(&app.db).await.expect("query").is_some());
}
