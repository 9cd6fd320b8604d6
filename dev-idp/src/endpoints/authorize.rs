//! The authorization endpoint: the development sign-in page (`GET`) and the person's
//! decision (`POST`), answered by a redirect to the client.

use super::*;

/// A validated authorization request.
#[derive(Debug)]
pub(super) struct AuthzRequest<'a> {
    pub(super) client_id: &'a str,
    pub(super) redirect_uri: &'a str,
    pub(super) state: &'a str,
    pub(super) nonce: Option<&'a str>,
    pub(super) code_challenge: &'a str,
    pub(super) scope: &'a str,
}

#[derive(Debug)]
pub(super) enum AuthzError {
    /// The client or redirect URI cannot be trusted: show a page, never redirect.
    Page(String),
    /// Report the error to the client through its registered redirect URI.
    Redirect { error: &'static str, description: String, state: Option<String> },
}

/// Validates an authorization request: the query of `GET /authorize`, or the
/// form of `POST /authorize` (`posted`).
pub(super) fn validate_authz<'p>(idp: &DevIdp, p: &'p Params, posted: bool) -> Result<AuthzRequest<'p>, AuthzError> {
    let client = idp.client();
    let page = |e: ParamError| AuthzError::Page(e.describe());
    let client_id =
        p.single("client_id").map_err(page)?.ok_or_else(|| AuthzError::Page("The request has no client_id.".into()))?;
    if client_id != client.client_id {
        return Err(AuthzError::Page(format!("Unknown client_id “{client_id}”.")));
    }
    let redirect_uri = p
        .single("redirect_uri")
        .map_err(page)?
        .ok_or_else(|| AuthzError::Page("The request has no redirect_uri.".into()))?;
    if redirect_uri != client.redirect_uri {
        return Err(AuthzError::Page(format!(
            "The redirect_uri “{redirect_uri}” is not the one registered for this client."
        )));
    }

    // From here on, errors go back to the (now verified) redirect URI.
    let state = match p.single("state") {
        Ok(state) => state,
        Err(e) => return Err(invalid_request(e.describe(), None)),
    };
    let fail = |description: &str| invalid_request(description.to_owned(), state);
    let get = |name: &'static str| p.single(name).map_err(|e| fail(&e.describe()));

    // The consent form posts response_type back too, but a POST without it
    // (e.g. a test filling the form by hand) is fine.
    match get("response_type")? {
        Some("code") => {}
        None if posted => {}
        _ => return Err(fail("response_type must be code")),
    }
    let scope = get("scope")?.unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(fail("scope must include openid"));
    }
    let Some(state) = state else {
        return Err(fail("state is required"));
    };
    match get("code_challenge_method")? {
        Some("S256") => {}
        None => return Err(fail("code_challenge_method is required (PKCE with S256)")),
        Some(_) => return Err(fail("code_challenge_method must be S256")),
    }
    let code_challenge = get("code_challenge")?.ok_or_else(|| fail("code_challenge is required (PKCE with S256)"))?;
    if !params::is_pkce_string(code_challenge) {
        return Err(fail("code_challenge is malformed"));
    }
    let nonce = get("nonce")?;
    Ok(AuthzRequest { client_id, redirect_uri, state, nonce, code_challenge, scope })
}

pub(super) fn invalid_request(description: String, state: Option<&str>) -> AuthzError {
    AuthzError::Redirect { error: "invalid_request", description, state: state.map(str::to_owned) }
}

pub(crate) async fn authorize_get(State(idp): State<DevIdp>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let req = match validate_authz(&idp, &params, false) {
        Ok(req) => req,
        Err(e) => return authz_error_response(&idp, e),
    };
    // There is no session to reuse, so a silent request cannot succeed.
    match params.single("prompt") {
        Ok(Some(prompt)) if prompt.split(' ').any(|p| p == "none") => {
            return authz_redirect(
                &idp,
                &[
                    ("error", "login_required"),
                    ("error_description", "the development provider always asks"),
                    ("state", req.state),
                ],
            );
        }
        Ok(_) => {}
        Err(e) => {
            return authz_error_response(&idp, invalid_request(e.describe(), Some(req.state)));
        }
    }
    sign_in_page(&idp, &req, StatusCode::OK, &UserForm::DEFAULT, None)
}

pub(crate) async fn authorize_post(State(idp): State<DevIdp>, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let req = match validate_authz(&idp, &params, true) {
        Ok(req) => req,
        Err(e) => return authz_error_response(&idp, e),
    };
    let text = |name: &'static str| params.single(name).map(|v| v.unwrap_or_default().trim());
    let (name, email) = match (text("name"), text("email")) {
        (Ok(name), Ok(email)) => (name, email),
        (Err(e), _) | (_, Err(e)) => {
            return sign_in_page(&idp, &req, StatusCode::BAD_REQUEST, &UserForm::DEFAULT, Some(&e.describe()));
        }
    };
    let email_verified = matches!(params.single("email_verified"), Ok(Some("true" | "on")));
    let entered = UserForm { name, email, email_verified };
    match params.single("decision") {
        Ok(Some("deny")) => {
            return authz_redirect(
                &idp,
                &[
                    ("error", "access_denied"),
                    ("error_description", "The user denied the sign-in."),
                    ("state", req.state),
                ],
            );
        }
        Ok(Some("allow")) => {}
        _ => {
            let msg = "Choose Continue or Deny.";
            return sign_in_page(&idp, &req, StatusCode::BAD_REQUEST, &entered, Some(msg));
        }
    }
    if let Err(msg) = check_user(name, email) {
        return sign_in_page(&idp, &req, StatusCode::BAD_REQUEST, &entered, Some(msg));
    }

    let now = now();
    let code = random_token();
    let grant = CodeGrant {
        client_id: req.client_id.to_owned(),
        redirect_uri: req.redirect_uri.to_owned(),
        code_challenge: req.code_challenge.to_owned(),
        nonce: req.nonce.map(str::to_owned),
        scope: req.scope.to_owned(),
        user: User { sub: subject_for_email(email), name: name.to_owned(), email: email.to_owned(), email_verified },
        auth_time: now,
        expires_at: now + CODE_LIFETIME,
        // Every approval is a sign-in of its own at this provider.
        sid: random_token(),
    };
    let inserted = idp.store().insert_code(&code, grant, now);
    if inserted.is_err() {
        return authz_redirect(
            &idp,
            &[
                ("error", "temporarily_unavailable"),
                ("error_description", "too many outstanding codes"),
                ("state", req.state),
            ],
        );
    }
    tracing::debug!(email, "dev identity provider issued an authorization code");
    authz_redirect(&idp, &[("code", &code), ("state", req.state)])
}

pub(super) fn check_user(name: &str, email: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("Name must not be empty.");
    }
    if name.chars().count() > 200 {
        return Err("Name is too long.");
    }
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if !plausible {
        return Err("Email must look like an email address (name@domain).");
    }
    Ok(())
}

pub(super) fn sign_in_page(
    idp: &DevIdp,
    req: &AuthzRequest<'_>,
    status: StatusCode,
    form: &UserForm<'_>,
    error: Option<&str>,
) -> Response {
    let hidden = [
        ("client_id", req.client_id),
        ("redirect_uri", req.redirect_uri),
        ("state", req.state),
        ("nonce", req.nonce.unwrap_or_default()),
        ("code_challenge", req.code_challenge),
        ("code_challenge_method", "S256"),
        ("scope", req.scope),
        ("response_type", "code"),
    ];
    let action = format!("{}/authorize", idp.issuer_str());
    let body = pages::authorize_page(&action, req.client_id, req.redirect_uri, &hidden, form, error);
    html(status, body)
}

pub(super) fn authz_error_response(idp: &DevIdp, e: AuthzError) -> Response {
    match e {
        AuthzError::Page(message) => {
            tracing::debug!(%message, "dev identity provider refused an authorization request");
            html(StatusCode::BAD_REQUEST, pages::error_page(&message))
        }
        AuthzError::Redirect { error, description, state } => {
            let mut pairs = vec![("error", error), ("error_description", description.as_str())];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            authz_redirect(idp, &pairs)
        }
    }
}

/// 303 to the registered redirect URI with `pairs` and `iss` appended.
pub(super) fn authz_redirect(idp: &DevIdp, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(&idp.client().redirect_uri) else {
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::error_page("The registered redirect_uri is not an absolute URL."),
        );
    };
    let iss = if idp.misbehaviour() == Misbehaviour::WrongIssParameter { OTHER_ISSUER } else { idp.issuer_str() };
    url.query_pairs_mut().extend_pairs(pairs.iter().copied()).append_pair("iss", iss);
    let Ok(location) = HeaderValue::from_str(url.as_str()) else {
        return html(StatusCode::INTERNAL_SERVER_ERROR, pages::error_page("Could not build the redirect."));
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
    )
        .into_response()
}

pub(super) fn html(status: StatusCode, body: String) -> Response {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
    ];
    (status, headers, body).into_response()
}
