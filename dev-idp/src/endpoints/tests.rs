use super::authorize::{AuthzError, validate_authz};
use super::token::{exchange, pkce_s256_matches};
use super::*;
use crate::DevClient;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn idp() -> DevIdp {
    DevIdp::new(
        url::Url::parse("http://127.0.0.1:3000/dev-idp").unwrap(),
        DevClient {
            client_id: "latchkey".into(),
            client_secret: "s3cret:+/ é".into(),
            redirect_uri: "http://127.0.0.1:3000/auth/callback?provider=dev".into(),
        },
    )
}

fn form_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    h
}

fn issue_code(idp: &DevIdp) -> String {
    let now = now();
    let code = random_token();
    let grant = CodeGrant {
        client_id: "latchkey".into(),
        redirect_uri: idp.client().redirect_uri.clone(),
        code_challenge: CHALLENGE.into(),
        nonce: Some("the-nonce".into()),
        scope: "openid email profile offline_access".into(),
        user: User {
            sub: subject_for_email("ada@example.test"),
            name: "Ada".into(),
            email: "ada@example.test".into(),
            email_verified: true,
        },
        auth_time: now,
        expires_at: now + CODE_LIFETIME,
        sid: random_token(),
    };
    idp.store().insert_code(&code, grant, now).unwrap();
    code
}

fn token_body(code: &str, verifier: &str) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", "http://127.0.0.1:3000/auth/callback?provider=dev")
        .append_pair("code_verifier", verifier)
        .append_pair("client_id", "latchkey")
        .append_pair("client_secret", "s3cret:+/ é")
        .finish()
        .into_bytes()
}

#[test]
fn pkce_s256_matches_rfc_7636_appendix_b() {
    assert!(pkce_s256_matches(VERIFIER, CHALLENGE));
    assert!(!pkce_s256_matches(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
    assert!(!pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", CHALLENGE));
    // A "plain" verifier equal to the challenge must not pass.
    assert!(!pkce_s256_matches(CHALLENGE, CHALLENGE));
    assert!(!pkce_s256_matches("", CHALLENGE));
}

#[test]
fn a_code_is_single_use() {
    let idp = idp();
    let code = issue_code(&idp);
    let answer = exchange(&idp, &form_headers(), &token_body(&code, VERIFIER), Misbehaviour::None).unwrap();
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["scope"], "openid email profile");
    let access = answer["access_token"].as_str().unwrap().to_owned();
    assert!(idp.store().access_token(&access, now()).is_some());

    let again = exchange(&idp, &form_headers(), &token_body(&code, VERIFIER), Misbehaviour::None).unwrap_err();
    assert_eq!(again.error, "invalid_grant");
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    // The replay revoked the access token issued from the code.
    assert!(idp.store().access_token(&access, now()).is_none());
}

#[test]
fn a_wrong_verifier_is_invalid_grant_and_spends_the_code() {
    let idp = idp();
    let code = issue_code(&idp);
    let wrong = "x".repeat(43);
    let e = exchange(&idp, &form_headers(), &token_body(&code, &wrong), Misbehaviour::None).unwrap_err();
    assert_eq!(e.error, "invalid_grant");
    let e = exchange(&idp, &form_headers(), &token_body(&code, VERIFIER), Misbehaviour::None).unwrap_err();
    assert_eq!(e.error, "invalid_grant");
}

#[test]
fn client_authentication() {
    let idp = idp();
    let code = issue_code(&idp);
    // client_secret_basic with the RFC 6749 §2.3.1 url-encoding.
    let mut headers = form_headers();
    let creds = base64::engine::general_purpose::STANDARD.encode("latchkey:s3cret%3A%2B%2F+%C3%A9");
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {creds}")).unwrap());
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", "http://127.0.0.1:3000/auth/callback?provider=dev")
        .append_pair("code_verifier", VERIFIER)
        .finish();
    exchange(&idp, &headers, body.as_bytes(), Misbehaviour::None).unwrap();

    // Wrong secret.
    let mut headers = form_headers();
    let creds = base64::engine::general_purpose::STANDARD.encode("latchkey:nope");
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {creds}")).unwrap());
    let e = exchange(&idp, &headers, body.as_bytes(), Misbehaviour::None).unwrap_err();
    assert_eq!((e.status, e.error), (StatusCode::UNAUTHORIZED, "invalid_client"));
    // Garbage header, and no authentication at all.
    let mut headers = form_headers();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic %%%"));
    let e = exchange(&idp, &headers, body.as_bytes(), Misbehaviour::None).unwrap_err();
    assert_eq!(e.error, "invalid_client");
    let e = exchange(&idp, &form_headers(), body.as_bytes(), Misbehaviour::None).unwrap_err();
    assert_eq!(e.error, "invalid_client");
}

#[test]
fn authorization_request_validation() {
    let idp = idp();
    let ok = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "latchkey")
        .append_pair("redirect_uri", "http://127.0.0.1:3000/auth/callback?provider=dev")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("state", "st")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let p = Params::parse(ok.as_bytes());
    let req = validate_authz(&idp, &p, false).unwrap();
    assert_eq!(req.state, "st");
    assert_eq!(req.nonce, None);

    let with = |extra: &str| Params::parse(format!("{ok}&{extra}").as_bytes());
    assert!(matches!(validate_authz(&idp, &with("client_id=latchkey"), false), Err(AuthzError::Page(_))));
    let replaced = ok.replace("provider%3Ddev", "provider%3Devil");
    assert!(matches!(validate_authz(&idp, &Params::parse(replaced.as_bytes()), false), Err(AuthzError::Page(_))));
    let plain = ok.replace("S256", "plain");
    match validate_authz(&idp, &Params::parse(plain.as_bytes()), false) {
        Err(AuthzError::Redirect { error, state, .. }) => {
            assert_eq!(error, "invalid_request");
            assert_eq!(state.as_deref(), Some("st"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let no_openid = ok.replace("scope=openid+email", "scope=email");
    assert!(matches!(
        validate_authz(&idp, &Params::parse(no_openid.as_bytes()), false),
        Err(AuthzError::Redirect { .. })
    ));
    // response_type may be left out of the posted form, not of the query.
    let no_response_type = ok.replace("response_type=code&", "");
    let p = Params::parse(no_response_type.as_bytes());
    assert!(validate_authz(&idp, &p, true).is_ok());
    assert!(validate_authz(&idp, &p, false).is_err());
}

#[test]
fn subjects_are_stable_per_email() {
    assert_eq!(subject_for_email("Ada@Example.TEST"), subject_for_email("ada@example.test"));
    assert_eq!(subject_for_email("ada@example.test").len(), 32);
    assert_ne!(subject_for_email("ada@example.test"), subject_for_email("grace@example.test"));
}
