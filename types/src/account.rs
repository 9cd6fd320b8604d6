//! The signed-in person and what belongs to them, as the pages and `/api/me` show it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{IdentityId, ProviderId, SessionId, TokenStatus, UserId};

/// The signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// The primary email: one of the verified emails of the linked identities, or none.
    pub email: Option<String>,
    /// URL of a profile picture, if any.
    pub picture: Option<String>,
    /// Every identity linked to this account, oldest first.
    pub identities: Vec<Identity>,
    /// The identity this session signed in with, if it is still linked.
    pub signed_in_with: Option<IdentityId>,
    /// Signed in within the last few minutes: unlinking and deleting need it.
    pub recently_signed_in: bool,
    /// The name of the provider this session signed in with, when signing out can end the
    /// person's session there too ("Sign out of <provider> too").
    pub provider_sign_out: Option<String>,
}

impl Me {
    /// The identity this session signed in with (a person may link two accounts of one
    /// provider, so this goes by the identity, not by its provider).
    pub fn session_identity(&self) -> Option<&Identity> {
        let id = self.signed_in_with.as_ref()?;
        self.identities.iter().find(|identity| &identity.id == id)
    }

    /// The distinct verified emails of the linked identities, in link order: the choices
    /// for the primary email.
    pub fn verified_emails(&self) -> Vec<String> {
        let mut emails: Vec<String> = Vec::new();
        for email in self.identities.iter().filter(|i| i.email_verified).filter_map(|i| i.email.as_ref()) {
            if !emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
                emails.push(email.clone());
            }
        }
        emails
    }
}

/// One provider account linked to the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub id: IdentityId,
    pub provider: ProviderId,
    /// Provider name for people, e.g. "Google".
    pub provider_name: String,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture: Option<String>,
    pub linked_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The provider tokens latchkey holds for it, if any.
    pub token_status: Option<TokenStatus>,
    /// The scopes the provider granted.
    pub token_scopes: Vec<String>,
}

impl Identity {
    /// "GitHub (ada@example.com)": the provider, told apart by email or name (someone may
    /// link two accounts of the same provider).
    pub fn label(&self) -> String {
        match self.email.as_deref().or(self.name.as_deref()) {
            Some(who) if !who.trim().is_empty() => format!("{} ({})", self.provider_name, who),
            _ => self.provider_name.clone(),
        }
    }
}

/// A provider account waiting, in this browser, to be linked to the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLinkInfo {
    pub provider: ProviderId,
    pub provider_name: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// One of the signed-in person's sessions (a signed-in browser).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: SessionId,
    /// This browser's session.
    pub current: bool,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Name of the provider the session signed in with.
    pub provider: Option<String>,
    /// That provider can end this session by itself (it sends back-channel logout tokens).
    pub provider_can_end_it: bool,
}

/// The primary email and picture as stored after a profile change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProfile {
    pub email: Option<String>,
    pub picture: Option<String>,
}

/// A display name as a person may choose it: trimmed, not empty, at most
/// [`DisplayName::MAX_CHARS`] characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

/// Why a display name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayNameError {
    Empty,
    TooLong,
    ControlCharacter,
}

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(name: &str) -> Result<DisplayName, DisplayNameError> {
        let name = name.trim();
        if name.is_empty() {
            Err(DisplayNameError::Empty)
        } else if name.chars().count() > Self::MAX_CHARS {
            Err(DisplayNameError::TooLong)
        } else if name.chars().any(char::is_control) {
            Err(DisplayNameError::ControlCharacter)
        } else {
            Ok(DisplayName(name.to_string()))
        }
    }

    /// A display name from what a provider says (its `name`, else the email's local part),
    /// cut to length; "New user" when neither gives one.
    pub fn from_claims(name: Option<&str>, email: Option<&str>) -> DisplayName {
        let usable = |value: &str| value.chars().filter(|c| !c.is_control()).take(Self::MAX_CHARS).collect::<String>();
        name.map(usable)
            .filter(|n| !n.trim().is_empty())
            .or_else(|| email.and_then(|e| e.split('@').next()).map(usable).filter(|n| !n.trim().is_empty()))
            .map(|n| DisplayName(n.trim().to_string()))
            .unwrap_or_else(|| DisplayName("New user".to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = DisplayNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DisplayName::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(name: DisplayName) -> String {
        name.0
    }
}

impl std::fmt::Display for DisplayNameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DisplayNameError::Empty => "empty",
            DisplayNameError::TooLong => "too long",
            DisplayNameError::ControlCharacter => "contains a control character",
        })
    }
}

impl std::error::Error for DisplayNameError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").map(DisplayName::into_string), Ok("Ada".to_string()));
        assert_eq!(DisplayName::parse("   "), Err(DisplayNameError::Empty));
        assert_eq!(DisplayName::parse(&"x".repeat(DisplayName::MAX_CHARS + 1)), Err(DisplayNameError::TooLong));
        assert_eq!(DisplayName::parse("a\u{0007}b"), Err(DisplayNameError::ControlCharacter));
    }

    #[test]
    fn display_names_from_claims_fall_back_to_the_email_then_a_placeholder() {
        assert_eq!(DisplayName::from_claims(Some(" Ada "), None).as_str(), "Ada");
        assert_eq!(DisplayName::from_claims(Some("  "), Some("ada@example.com")).as_str(), "ada");
        assert_eq!(DisplayName::from_claims(None, None).as_str(), "New user");
        assert_eq!(DisplayName::from_claims(Some(&"y".repeat(300)), None).as_str().chars().count(), 100);
    }
}
