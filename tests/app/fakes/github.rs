//! A fake GitHub: the OAuth authorize and token endpoints, and the REST API's `/user` and
//! `/user/emails`, answering for whichever account the test set with
//! [`FakeGitHub::next_sign_in`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Codes, Problems, check_authorize, listen, serve};

pub const CLIENT_ID: &str = "Iv1.fakegithubclient";
pub const CLIENT_SECRET: &str = "fake-github-secret";

/// A GitHub account as the API describes it.
#[derive(Clone, Debug)]
pub struct Account {
    /// The `/user` answer.
    pub user: Value,
    /// The `/user/emails` answer.
    pub emails: Value,
}

impl Account {
    pub fn new(id: u64, login: &str, public_email: Option<&str>, emails: Value) -> Account {
        Account {
            user: json!({
                "id": id,
                "login": login,
                "name": format!("{login} (GitHub)"),
                "email": public_email,
                "avatar_url": format!("https://avatars.example.test/{id}"),
            }),
            emails,
        }
    }
}

/// Ways the fake misbehaves, to prove latchkey does not trust GitHub's answers blindly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Misbehaviour {
    #[default]
    None,
    /// The token endpoint answers 200 with `{"error":"bad_verification_code"}`, as GitHub does.
    RefuseCode,
    /// `/user` has no `id`.
    UserWithoutId,
    /// `/user` answers with a string `id`.
    UserWithStringId,
    /// `/user` answers 503.
    ApiDown,
    /// `/user/emails` is not JSON.
    EmailsNotJson,
    /// `/user/emails` answers 403, as for a GitHub App without the email permission.
    EmailsForbidden,
    /// Deleting a grant answers 500.
    GrantDeletionFails,
}

#[derive(Clone)]
pub struct FakeGitHub {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    next: Mutex<Account>,
    misbehaviour: Mutex<Misbehaviour>,
    /// `iss` to add to the authorization response.
    iss_parameter: Mutex<Option<String>>,
    codes: Codes<Account>,
    access_tokens: Mutex<HashMap<String, Account>>,
    /// The `Accept` header of every token request.
    token_accept_headers: Mutex<Vec<String>>,
    /// The access tokens whose grants latchkey asked to delete.
    deleted_grants: Mutex<Vec<String>>,
    problems: Problems,
}

impl FakeGitHub {
    pub async fn start() -> FakeGitHub {
        let (listener, base) = listen().await;
        let fake = FakeGitHub {
            inner: Arc::new(Inner {
                base,
                next: Mutex::new(Account::new(1, "someone", None, json!([]))),
                misbehaviour: Mutex::default(),
                iss_parameter: Mutex::default(),
                codes: Codes::default(),
                access_tokens: Mutex::default(),
                token_accept_headers: Mutex::default(),
                deleted_grants: Mutex::default(),
                problems: Problems::default(),
            }),
        };
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .route("/api/applications/{client_id}/grant", axum::routing::delete(delete_grant))
            .with_state(fake.clone());
        serve(listener, router).await;
        fake
    }

    /// The API URL latchkey is configured with; also the issuer its identities are stored under.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.inner.base)
    }

    pub fn next_sign_in(&self, account: Account) {
        *self.inner.next.lock().expect("next") = account;
    }

    pub fn misbehave(&self, misbehaviour: Misbehaviour) {
        *self.inner.misbehaviour.lock().expect("misbehaviour") = misbehaviour;
    }

    pub fn send_iss_parameter(&self, iss: &str) {
        *self.inner.iss_parameter.lock().expect("iss") = Some(iss.to_string());
    }

    pub fn token_accept_headers(&self) -> Vec<String> {
        self.inner.token_accept_headers.lock().expect("accept headers").clone()
    }

    /// The access tokens whose grants latchkey asked to delete, answered or not.
    pub fn deleted_grants(&self) -> Vec<String> {
        self.inner.deleted_grants.lock().expect("grants").clone()
    }

    pub fn problems(&self) -> &Problems {
        &self.inner.problems
    }

    /// `LATCHKEY_PROVIDER_<ID>_…` for this fake.
    pub fn variables(&self, id: &str) -> Vec<(String, String)> {
        let base = &self.inner.base;
        vec![
            (format!("LATCHKEY_PROVIDER_{id}_KIND"), "github".to_string()),
            (format!("LATCHKEY_PROVIDER_{id}_CLIENT_ID"), CLIENT_ID.to_string()),
            (format!("LATCHKEY_PROVIDER_{id}_CLIENT_SECRET"), CLIENT_SECRET.to_string()),
            (format!("LATCHKEY_PROVIDER_{id}_AUTHORIZE_URL"), format!("{base}/login/oauth/authorize")),
            (format!("LATCHKEY_PROVIDER_{id}_TOKEN_URL"), format!("{base}/login/oauth/access_token")),
            (format!("LATCHKEY_PROVIDER_{id}_API_URL"), self.api_url()),
        ]
    }

    fn misbehaviour(&self) -> Misbehaviour {
        *self.inner.misbehaviour.lock().expect("misbehaviour")
    }

    /// The account behind a request's bearer token, after checking GitHub's required headers.
    fn account(&self, headers: &HeaderMap, endpoint: &str) -> Result<Account, (axum::http::StatusCode, String)> {
        let problems = &self.inner.problems;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        if header("accept") != "application/vnd.github+json" {
            return Err(
                problems.fail(format!("{endpoint}: Accept is `{}`, not application/vnd.github+json", header("accept")))
            );
        }
        if header("user-agent").is_empty() {
            return Err(problems.fail(format!("{endpoint}: no User-Agent (GitHub refuses such requests)")));
        }
        let token = header("authorization").strip_prefix("Bearer ").map(str::to_string);
        let account = token.and_then(|token| self.inner.access_tokens.lock().expect("tokens").get(&token).cloned());
        account.ok_or_else(|| problems.fail(format!("{endpoint}: no valid `Authorization: Bearer` token")))
    }
}

async fn authorize(State(fake): State<FakeGitHub>, Query(params): Query<HashMap<String, String>>) -> Response {
    let approval = match check_authorize(&fake.inner.problems, &params, CLIENT_ID, "read:user") {
        Ok(approval) => approval,
        Err(refusal) => return refusal.into_response(),
    };
    let account = fake.inner.next.lock().expect("next").clone();
    let mut back = fake.inner.codes.issue(approval, account);
    if let Some(iss) = fake.inner.iss_parameter.lock().expect("iss").clone() {
        back.query_pairs_mut().append_pair("iss", &iss);
    }
    Redirect::to(back.as_str()).into_response()
}

async fn token(
    State(fake): State<FakeGitHub>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let problems = &fake.inner.problems;
    let accept = headers.get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    fake.inner.token_accept_headers.lock().expect("accept headers").push(accept.clone());
    if accept != "application/json" {
        // GitHub would answer `access_token=…&scope=…` as a form, which is no JSON.
        return problems.fail(format!("token: Accept is `{accept}`, not application/json")).into_response();
    }
    let account = match fake.inner.codes.redeem(problems, &headers, &form, (CLIENT_ID, CLIENT_SECRET)) {
        Ok(account) => account,
        Err(refusal) => return refusal.into_response(),
    };
    if fake.misbehaviour() == Misbehaviour::RefuseCode {
        return Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
        }))
        .into_response();
    }
    let access_token = format!("gho_{}", uuid::Uuid::new_v4().simple());
    fake.inner.access_tokens.lock().expect("tokens").insert(access_token.clone(), account);
    Json(json!({"access_token": access_token, "token_type": "bearer", "scope": "read:user,user:email"})).into_response()
}

async fn user(State(fake): State<FakeGitHub>, headers: HeaderMap) -> Response {
    let account = match fake.account(&headers, "/user") {
        Ok(account) => account,
        Err(failure) => return failure.into_response(),
    };
    let mut user = account.user;
    match fake.misbehaviour() {
        Misbehaviour::ApiDown => return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "unicorn").into_response(),
        Misbehaviour::UserWithoutId => {
            user.as_object_mut().map(|u| u.remove("id"));
        }
        Misbehaviour::UserWithStringId => user["id"] = json!(user["id"].to_string()),
        _ => {}
    }
    Json(user).into_response()
}

async fn emails(State(fake): State<FakeGitHub>, headers: HeaderMap) -> Response {
    let account = match fake.account(&headers, "/user/emails") {
        Ok(account) => account,
        Err(failure) => return failure.into_response(),
    };
    match fake.misbehaviour() {
        Misbehaviour::EmailsNotJson => return "<html>oops</html>".into_response(),
        Misbehaviour::EmailsForbidden => {
            return (
                axum::http::StatusCode::FORBIDDEN,
                Json(json!({"message": "Resource not accessible by integration"})),
            )
                .into_response();
        }
        _ => {}
    }
    Json(account.emails).into_response()
}

/// `DELETE /applications/{client_id}/grant` (GitHub's revocation): the app's own Basic
/// credentials, the access token in a JSON body.
async fn delete_grant(
    State(fake): State<FakeGitHub>,
    axum::extract::Path(client_id): axum::extract::Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let problems = &fake.inner.problems;
    if client_id != CLIENT_ID {
        return problems.fail("grant deletion: another client's grant").into_response();
    }
    if let Err(problem) = super::check_basic_auth(&headers, CLIENT_ID, CLIENT_SECRET) {
        return problems.fail(format!("grant deletion: {problem}")).into_response();
    }
    let Some(token) = body["access_token"].as_str() else {
        return problems.fail("grant deletion: no access_token").into_response();
    };
    fake.inner.deleted_grants.lock().expect("grants").push(token.to_string());
    if fake.misbehaviour() == Misbehaviour::GrantDeletionFails {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    axum::http::StatusCode::NO_CONTENT.into_response()
}
