//! In-memory state: authorization codes and access tokens. Secrets are kept
//! only as SHA-256 digests. Expired entries are pruned whenever something is
//! added.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

/// Authorization codes live this long (seconds).
pub(super) const CODE_LIFETIME: i64 = 60;
/// Access tokens live this long (seconds); also the `expires_in` answered.
pub(super) const ACCESS_TOKEN_LIFETIME: i64 = 3600;
/// Refuse to hold more than this many live entries of one kind.
const MAX_ENTRIES: usize = 10_000;

/// The claims of the person who signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct User {
    pub sub: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
}

/// What an authorization code is bound to.
#[derive(Clone, Debug)]
pub(super) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub user: User,
    pub auth_time: i64,
    pub expires_at: i64,
    /// The provider's session this approval belongs to (the ID token's `sid`).
    pub sid: String,
}

struct CodeEntry {
    grant: CodeGrant,
    /// Set once the code has been presented at the token endpoint.
    redeemed: bool,
    /// Digest of the access token issued for the code, revoked if the code is replayed.
    access_token: Option<String>,
}

/// What an access token grants.
#[derive(Clone, Debug)]
pub(super) struct AccessGrant {
    pub user: User,
    pub expires_at: i64,
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub(super) enum Redemption {
    /// Never issued, or pruned after it expired.
    Unknown,
    /// Already presented once: refused, and any token it produced is revoked.
    Replayed,
    /// First presentation; the code is now spent, whatever happens next.
    First(Box<CodeGrant>),
}

#[derive(Debug)]
pub(super) struct Full;

/// What a refresh token grants: more access tokens for this user and client.
#[derive(Clone, Debug)]
pub(super) struct RefreshGrant {
    pub user: User,
    pub client_id: String,
    pub scope: String,
}

#[derive(Default)]
pub(super) struct Store {
    codes: HashMap<String, CodeEntry>,
    tokens: HashMap<String, AccessGrant>,
    /// Rotating refresh tokens: each is spent by its first use.
    refresh_tokens: HashMap<String, RefreshGrant>,
}

fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    fn prune(&mut self, now: i64) {
        self.codes.retain(|_, e| e.grant.expires_at > now);
        self.tokens.retain(|_, t| t.expires_at > now);
    }

    pub(super) fn insert_code(&mut self, code: &str, grant: CodeGrant, now: i64) -> Result<(), Full> {
        self.prune(now);
        if self.codes.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        self.codes.insert(digest(code), CodeEntry { grant, redeemed: false, access_token: None });
        Ok(())
    }

    /// Presents a code: single use. The expiry and bindings are for the caller
    /// to check on the grant returned.
    pub(super) fn redeem_code(&mut self, code: &str) -> Redemption {
        let Some(entry) = self.codes.get_mut(&digest(code)) else {
            return Redemption::Unknown;
        };
        if entry.redeemed {
            // RFC 6749 §4.1.2: revoke what was issued from a replayed code.
            if let Some(token) = entry.access_token.take() {
                self.tokens.remove(&token);
            }
            return Redemption::Replayed;
        }
        entry.redeemed = true;
        Redemption::First(Box::new(entry.grant.clone()))
    }

    /// Records an access token issued for `code` (`None`: from a refresh token).
    pub(super) fn insert_access_token(
        &mut self,
        code: Option<&str>,
        access_token: &str,
        grant: AccessGrant,
        now: i64,
    ) -> Result<(), Full> {
        self.prune(now);
        if self.tokens.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        let key = digest(access_token);
        if let Some(entry) = code.and_then(|code| self.codes.get_mut(&digest(code))) {
            entry.access_token = Some(key.clone());
        }
        self.tokens.insert(key, grant);
        Ok(())
    }

    pub(super) fn insert_refresh_token(&mut self, refresh_token: &str, grant: RefreshGrant) -> Result<(), Full> {
        if self.refresh_tokens.len() >= MAX_ENTRIES {
            return Err(Full);
        }
        self.refresh_tokens.insert(digest(refresh_token), grant);
        Ok(())
    }

    /// Spends a refresh token (rotation: a used one never works again).
    pub(super) fn take_refresh_token(&mut self, refresh_token: &str) -> Option<RefreshGrant> {
        self.refresh_tokens.remove(&digest(refresh_token))
    }

    /// Revokes a refresh or access token; whether it was live.
    pub(super) fn revoke(&mut self, token: &str) -> bool {
        let key = digest(token);
        self.refresh_tokens.remove(&key).is_some() | self.tokens.remove(&key).is_some()
    }

    /// The live grant behind an access token.
    pub(super) fn access_token(&self, access_token: &str, now: i64) -> Option<&AccessGrant> {
        self.tokens.get(&digest(access_token)).filter(|t| t.expires_at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User { sub: "s".into(), name: "Ada".into(), email: "ada@example.test".into(), email_verified: true }
    }

    fn grant(now: i64) -> CodeGrant {
        CodeGrant {
            client_id: "c".into(),
            redirect_uri: "http://app/cb".into(),
            code_challenge: "x".repeat(43),
            nonce: Some("n".into()),
            scope: "openid".into(),
            user: user(),
            auth_time: now,
            expires_at: now + CODE_LIFETIME,
            sid: "sid".into(),
        }
    }

    #[test]
    fn codes_are_single_use_and_replay_revokes_the_token() {
        let mut store = Store::default();
        store.insert_code("code-1", grant(1000), 1000).unwrap();
        assert!(matches!(store.redeem_code("nope"), Redemption::Unknown));
        let Redemption::First(g) = store.redeem_code("code-1") else { panic!("first redemption must succeed") };
        assert_eq!(g.user, user());
        store
            .insert_access_token(
                Some("code-1"),
                "tok",
                AccessGrant { user: user(), expires_at: 1000 + ACCESS_TOKEN_LIFETIME },
                1001,
            )
            .unwrap();
        assert!(store.access_token("tok", 1002).is_some());
        assert!(matches!(store.redeem_code("code-1"), Redemption::Replayed));
        assert!(store.access_token("tok", 1002).is_none(), "replay revokes");
        assert!(matches!(store.redeem_code("code-1"), Redemption::Replayed));
    }

    #[test]
    fn expired_entries_are_pruned_and_refused() {
        let mut store = Store::default();
        store.insert_code("old", grant(0), 0).unwrap();
        store.insert_access_token(Some("old"), "tok", AccessGrant { user: user(), expires_at: 10 }, 0).unwrap();
        assert!(store.access_token("tok", 10).is_none());
        store.insert_code("new", grant(100), 100).unwrap();
        assert!(matches!(store.redeem_code("old"), Redemption::Unknown));
        assert_eq!(store.codes.len(), 1);
        assert!(store.tokens.is_empty());
    }
}
