//! The rules of a logout token (OpenID Connect Back-Channel Logout 1.0, section 2.6), after
//! its signature: that is checked like an ID token's, with the provider's keys and the same
//! algorithm allow-list. Each refusal names the rule it broke.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

/// The member of `events` that makes a JWT a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A provider sends its logout token the moment the session ends: an older one is refused.
pub const MAX_LOGOUT_TOKEN_AGE: TimeDelta = TimeDelta::minutes(5);
/// Clock skew tolerated between the provider and latchkey.
const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

/// The rule a logout token broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenRule {
    #[error("the signature is not the provider's")]
    Signature,
    #[error("the `typ` header is not `logout+jwt`")]
    Type,
    #[error("`iss` is not the provider")]
    Issuer,
    #[error("`aud` does not name latchkey")]
    Audience,
    #[error("`iat` is missing, in the future or too old")]
    IssuedAt,
    #[error("`exp` has passed")]
    Expired,
    #[error("`jti` is missing")]
    MissingId,
    #[error("`events` does not hold the back-channel logout event")]
    Events,
    #[error("neither `sub` nor `sid` is present")]
    NoSubjectOrSession,
    #[error("a logout token never carries a `nonce`")]
    Nonce,
    #[error("this provider does not speak OpenID Connect, so it sends no logout tokens")]
    NotOpenIdConnect,
}

/// Why a logout token was not acted on: it broke a rule, or the provider's keys could not be
/// had to check it.
#[derive(Debug, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("the logout token was refused: {0}")]
    Refused(#[from] LogoutTokenRule),
    #[error(transparent)]
    Provider(#[from] super::ProviderError),
}

/// What a valid logout token asks for: end the sessions of the provider session `session`,
/// or of the identity `subject` (both: the sessions that match both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    pub subject: Option<String>,
    pub session: Option<String>,
    /// The token's id: a second token with it is a replay.
    pub token_id: String,
    /// Until when the id must be remembered: after it, the token is refused as too old anyway.
    pub remember_until: DateTime<Utc>,
}

/// Checks a logout token's header and claims (its signature already verified). `is_issuer`
/// says whether an `iss` is the provider's.
pub fn check(
    header: &Value,
    claims: &Value,
    is_issuer: impl Fn(&str) -> bool,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<LogoutRequest, LogoutTokenRule> {
    use LogoutTokenRule as Rule;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|value| !value.is_empty());
    let time = |name: &str| claims.get(name).and_then(Value::as_i64).and_then(|t| DateTime::from_timestamp(t, 0));

    if let Some(typ) = header.get("typ") {
        let typ = typ.as_str().unwrap_or_default().to_ascii_lowercase();
        if typ != "logout+jwt" && typ != "application/logout+jwt" {
            return Err(Rule::Type);
        }
    }
    if !text("iss").is_some_and(&is_issuer) {
        return Err(Rule::Issuer);
    }
    let audience_names_us = match claims.get("aud") {
        Some(Value::String(audience)) => audience == client_id,
        Some(Value::Array(audiences)) => audiences.iter().any(|audience| audience.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_names_us {
        return Err(Rule::Audience);
    }
    let issued_at = time("iat").ok_or(Rule::IssuedAt)?;
    if issued_at > now + CLOCK_SKEW || issued_at < now - MAX_LOGOUT_TOKEN_AGE - CLOCK_SKEW {
        return Err(Rule::IssuedAt);
    }
    let expires_at = match claims.get("exp") {
        None => None,
        Some(_) => Some(time("exp").ok_or(Rule::Expired)?),
    };
    if expires_at.is_some_and(|exp| exp + CLOCK_SKEW <= now) {
        return Err(Rule::Expired);
    }
    let token_id = text("jti").ok_or(Rule::MissingId)?.to_string();
    let event = claims.get("events").and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(Rule::Events);
    }
    let (subject, session) = (text("sub").map(str::to_string), text("sid").map(str::to_string));
    if subject.is_none() && session.is_none() {
        return Err(Rule::NoSubjectOrSession);
    }
    if claims.get("nonce").is_some() {
        return Err(Rule::Nonce);
    }
    let refused_from = issued_at + MAX_LOGOUT_TOKEN_AGE + CLOCK_SKEW;
    Ok(LogoutRequest { subject, session, token_id, remember_until: refused_from })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://sso.example.test";
    const CLIENT: &str = "latchkey";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time")
    }

    fn valid() -> Value {
        json!({
            "iss": ISSUER,
            "aud": CLIENT,
            "iat": now().timestamp(),
            "exp": now().timestamp() + 120,
            "jti": "token-1",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
            "sub": "subject-1",
            "sid": "session-1",
        })
    }

    fn checked(header: Value, claims: Value) -> Result<LogoutRequest, LogoutTokenRule> {
        check(&header, &claims, |iss| iss == ISSUER, CLIENT, now())
    }

    fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Result<LogoutRequest, LogoutTokenRule> {
        let mut claims = valid();
        change(claims.as_object_mut().expect("an object"));
        checked(json!({"alg": "ES256", "typ": "logout+jwt"}), claims)
    }

    #[test]
    fn a_valid_token_names_the_subject_and_session_to_end() {
        let request = with(|_| {}).expect("valid");

        assert_eq!(request.subject.as_deref(), Some("subject-1"));
        assert_eq!(request.session.as_deref(), Some("session-1"));
        assert_eq!(request.token_id, "token-1");
        assert!(request.remember_until > now() + MAX_LOGOUT_TOKEN_AGE, "kept until it would be too old");
    }

    #[test]
    fn either_sub_or_sid_is_enough_and_an_audience_list_may_name_latchkey() {
        assert!(with(|c| drop(c.remove("sub"))).is_ok());
        assert!(with(|c| drop(c.remove("sid"))).is_ok());
        assert!(with(|c| drop(c.remove("exp"))).is_ok(), "exp is optional");
        assert!(with(|c| drop(c.insert("aud".into(), json!(["other", CLIENT])))).is_ok());
        assert!(checked(json!({"alg": "ES256"}), valid()).is_ok(), "typ is optional");
    }

    #[test]
    fn each_broken_rule_is_refused_by_name() {
        use LogoutTokenRule as Rule;
        let cases: [(Result<LogoutRequest, LogoutTokenRule>, Rule); 12] = [
            (checked(json!({"alg": "ES256", "typ": "JWT"}), valid()), Rule::Type),
            (with(|c| drop(c.insert("iss".into(), json!("https://other.example.test")))), Rule::Issuer),
            (with(|c| drop(c.insert("aud".into(), json!("another-client")))), Rule::Audience),
            (with(|c| drop(c.remove("iat"))), Rule::IssuedAt),
            (with(|c| drop(c.insert("iat".into(), json!(now().timestamp() - 24 * 3600)))), Rule::IssuedAt),
            (with(|c| drop(c.insert("iat".into(), json!(now().timestamp() + 3600)))), Rule::IssuedAt),
            (with(|c| drop(c.insert("exp".into(), json!(now().timestamp() - 3600)))), Rule::Expired),
            (with(|c| drop(c.remove("jti"))), Rule::MissingId),
            (with(|c| drop(c.remove("events"))), Rule::Events),
            (with(|c| drop(c.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" })))), Rule::Events),
            (
                with(|c| {
                    c.remove("sub");
                    c.remove("sid");
                }),
                Rule::NoSubjectOrSession,
            ),
            (with(|c| drop(c.insert("nonce".into(), json!("n")))), Rule::Nonce),
        ];
        for (index, (result, rule)) in cases.into_iter().enumerate() {
            assert_eq!(result, Err(rule), "case {index}");
        }
    }
}
