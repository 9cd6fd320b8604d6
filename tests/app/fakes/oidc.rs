//! A fake OpenID Connect provider shaped like Google (issuer at the root) or like Microsoft's
//! multi-tenant endpoint (discovery under `/common/v2.0`, issuer template `/{tenantid}/v2.0`).
//! It approves every authorization request at once and puts into the ID token whatever claims
//! the test asked for with [`FakeOidc::next_sign_in`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use latchkey::latchkey_dev_idp::jwt::{KeyPair, Signing};
use serde_json::{Value, json};

use super::{Codes, Problems, check_authorize, listen, serve};

pub const CLIENT_ID: &str = "latchkey-test-client";
pub const CLIENT_SECRET: &str = "fake-oidc-secret";

#[derive(Clone)]
pub struct FakeOidc {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    /// Where discovery lives, relative to `base`: `` or `/common/v2.0`.
    issuer_path: String,
    /// The `issuer` the discovery document states.
    discovery_issuer: String,
    key: KeyPair,
    next: Mutex<Value>,
    codes: Codes<Grant>,
    /// Access token → the `sub` it was issued for.
    access_tokens: Mutex<HashMap<String, String>>,
    userinfo_requests: AtomicUsize,
    problems: Problems,
}

struct Grant {
    claims: Value,
    nonce: String,
}

impl FakeOidc {
    /// Like Google: discovery at the root, `issuer` = the root URL.
    pub async fn google() -> FakeOidc {
        Self::start("", None).await
    }

    /// Like Microsoft's `common` endpoint: discovery at `/common/v2.0`, whose `issuer` is the
    /// template `{base}/{tenantid}/v2.0`.
    pub async fn microsoft_multi_tenant() -> FakeOidc {
        Self::start("/common/v2.0", Some("/{tenantid}/v2.0")).await
    }

    async fn start(issuer_path: &str, discovery_issuer_path: Option<&str>) -> FakeOidc {
        let (listener, base) = listen().await;
        let fake = FakeOidc {
            inner: Arc::new(Inner {
                discovery_issuer: format!("{base}{}", discovery_issuer_path.unwrap_or(issuer_path)),
                base,
                issuer_path: issuer_path.to_string(),
                key: KeyPair::generate(),
                next: Mutex::new(json!({})),
                codes: Codes::default(),
                access_tokens: Mutex::default(),
                userinfo_requests: AtomicUsize::new(0),
                problems: Problems::default(),
            }),
        };
        let router = Router::new()
            .route(&format!("{issuer_path}/.well-known/openid-configuration"), get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(fake.clone());
        serve(listener, router).await;
        fake
    }

    /// The URL to configure as `_ISSUER`.
    pub fn issuer(&self) -> String {
        format!("{}{}", self.inner.base, self.inner.issuer_path)
    }

    /// Microsoft-shaped: the issuer of tenant `tid`'s tokens.
    pub fn tenant_issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.inner.base)
    }

    /// Claims for the next approved sign-in's ID token, over the defaults (`iss` = the
    /// discovery issuer, `sub`, `aud`, `iat`, `exp`, `nonce`); `null` removes a default.
    pub fn next_sign_in(&self, claims: Value) {
        *self.inner.next.lock().expect("next") = claims;
    }

    /// How many times latchkey asked the userinfo endpoint.
    pub fn userinfo_requests(&self) -> usize {
        self.inner.userinfo_requests.load(Ordering::SeqCst)
    }

    pub fn problems(&self) -> &Problems {
        &self.inner.problems
    }

    /// `LATCHKEY_PROVIDER_<ID>_…` for this fake: kind, issuer and client credentials.
    pub fn variables(&self, id: &str, kind: &str) -> Vec<(String, String)> {
        vec![
            (format!("LATCHKEY_PROVIDER_{id}_KIND"), kind.to_string()),
            (format!("LATCHKEY_PROVIDER_{id}_ISSUER"), self.issuer()),
            (format!("LATCHKEY_PROVIDER_{id}_CLIENT_ID"), CLIENT_ID.to_string()),
            (format!("LATCHKEY_PROVIDER_{id}_CLIENT_SECRET"), CLIENT_SECRET.to_string()),
        ]
    }

    fn sign(&self, claims: &Value) -> String {
        self.inner.key.encode(Signing::Es256, claims)
    }
}

async fn discovery(State(fake): State<FakeOidc>) -> Json<Value> {
    let base = &fake.inner.base;
    Json(json!({
        "issuer": fake.inner.discovery_issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
}

async fn jwks(State(fake): State<FakeOidc>) -> Json<Value> {
    Json(json!({"keys": [fake.inner.key.jwk()]}))
}

async fn authorize(State(fake): State<FakeOidc>, Query(params): Query<HashMap<String, String>>) -> Response {
    let problems = &fake.inner.problems;
    let approval = match check_authorize(problems, &params, CLIENT_ID, "openid") {
        Ok(approval) => approval,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(nonce) = approval.nonce.clone() else {
        return problems.fail("authorize: no nonce").into_response();
    };
    let claims = fake.inner.next.lock().expect("next").clone();
    Redirect::to(fake.inner.codes.issue(approval, Grant { claims, nonce }).as_str()).into_response()
}

async fn token(
    State(fake): State<FakeOidc>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let problems = &fake.inner.problems;
    let grant = match fake.inner.codes.redeem(problems, &headers, &form, (CLIENT_ID, CLIENT_SECRET)) {
        Ok(grant) => grant,
        Err(refusal) => return refusal.into_response(),
    };
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": fake.inner.discovery_issuer,
        "sub": "subject-1",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 600,
        "nonce": grant.nonce,
    });
    let object = claims.as_object_mut().expect("an object");
    for (name, value) in grant.claims.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            object.remove(&name);
        } else {
            object.insert(name, value);
        }
    }
    let access_token = format!("at-{}", uuid::Uuid::new_v4().simple());
    let subject = claims["sub"].as_str().unwrap_or_default().to_string();
    fake.inner.access_tokens.lock().expect("tokens").insert(access_token.clone(), subject);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 600,
        "id_token": fake.sign(&claims),
    }))
    .into_response()
}

async fn userinfo(State(fake): State<FakeOidc>, headers: HeaderMap) -> Response {
    fake.inner.userinfo_requests.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let subject = token.and_then(|token| fake.inner.access_tokens.lock().expect("tokens").get(&token).cloned());
    match subject {
        Some(sub) => Json(json!({"sub": sub})).into_response(),
        None => fake.inner.problems.fail("userinfo: no valid bearer access token").into_response(),
    }
}
