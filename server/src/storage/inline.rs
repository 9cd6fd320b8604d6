//! SQLite's hot reads, run inline: a request's session (with its user), and the identities
//! `/api/me` and the pages show, on prepared statements of a few query-only connections of
//! latchkey's own. sqlx runs each SQLite connection on a worker thread of its own, so every
//! query is a hop there and back; on the hot path those hops cost more than the queries (a
//! lookup by an indexed key takes microseconds), so these run on the calling thread.
//!
//! Same file, same WAL snapshot rules as the sqlx readers: a revoked session is gone for the
//! next request here too. Everything else reads through sea-orm.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use latchkey_types::TokenStatus;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use sea_orm::{ActiveEnum, DbErr};

use super::entities::{identity, session, user};

/// A session, its user, and what was read of each of the user's identities.
pub type SessionWith<I> = (session::Model, user::Model, Vec<I>);

/// A session, its user, and the user's identities.
pub type SessionWithIdentities = SessionWith<identity::Model>;

/// An identity and the state of the provider tokens held for it: status, expiry, scopes.
pub type IdentityWithTokens = (identity::Model, Option<TokenStatus>, Option<DateTime<Utc>>, Option<String>);

/// The session's and its user's columns, as [`session_and_user`] reads them.
const SESSION_AND_USER_COLUMNS: &str = "s.id, s.token_hash, s.user_id, s.identity_id, s.created_at, s.last_seen_at, \
     s.expires_at, s.user_agent, s.ip, s.provider_sid, s.id_token, s.id_token_key_id, \
     u.id, u.display_name, u.email, u.picture, u.created_at, u.updated_at, u.disabled_at";
/// Where the identity's columns begin after [`SESSION_AND_USER_COLUMNS`].
const IDENTITY_AFTER_USER: usize = 19;

const IDENTITY_COLUMNS: &str = "i.id, i.user_id, i.provider_id, i.issuer, i.subject, i.name, i.email, \
     i.email_verified, i.picture, i.created_at, i.last_used_at";
/// How many columns [`IDENTITY_COLUMNS`] names.
const IDENTITY_COLUMN_COUNT: usize = 11;

// The statements, written once. A person's identities come oldest first, in the order of
// the index on (user_id, created_at): no sort.
static SESSION_WITH_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SESSION_AND_USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1"
    )
});
static SESSION_WITH_IDENTITIES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SESSION_AND_USER_COLUMNS}, {IDENTITY_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN identities i ON i.user_id = u.id WHERE s.token_hash = ?1 ORDER BY i.created_at"
    )
});
static SESSION_WITH_IDENTITIES_AND_TOKENS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {SESSION_AND_USER_COLUMNS}, {IDENTITY_COLUMNS}, t.status, t.expires_at, t.scopes FROM sessions s \
         JOIN users u ON u.id = s.user_id LEFT JOIN identities i ON i.user_id = u.id \
         LEFT JOIN provider_tokens t ON t.identity_id = i.id WHERE s.token_hash = ?1 ORDER BY i.created_at"
    )
});
static IDENTITIES_OF: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.user_id = ?1 ORDER BY i.created_at"));
static IDENTITIES_WITH_TOKENS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {IDENTITY_COLUMNS}, t.status, t.expires_at, t.scopes FROM identities i \
         LEFT JOIN provider_tokens t ON t.identity_id = i.id WHERE i.user_id = ?1 ORDER BY i.created_at"
    )
});

pub struct InlineReads {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for InlineReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReads").field("connections", &self.connections.len()).finish_non_exhaustive()
    }
}

impl InlineReads {
    /// `count` query-only connections to the database file at `path` (which exists: the
    /// writer created and migrated it).
    pub fn open(path: &Path, count: usize, busy_timeout: std::time::Duration) -> Result<Self, DbErr> {
        let connections = (0..count.max(1))
            .map(|_| {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let connection = Connection::open_with_flags(path, flags).map_err(database_error)?;
                connection.busy_timeout(busy_timeout).map_err(database_error)?;
                Ok(Mutex::new(connection))
            })
            .collect::<Result<Vec<_>, DbErr>>()?;
        Ok(InlineReads { connections, next: AtomicUsize::new(0) })
    }

    /// Runs `read` on a free connection, or (all busy) on the next one once it is free: each
    /// read holds it for microseconds.
    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, DbErr> {
        let free = self.connections.iter().find_map(|connection| connection.try_lock().ok());
        let connection = match free {
            Some(connection) => connection,
            None => {
                let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
                self.connections[turn].lock().unwrap_or_else(PoisonError::into_inner)
            }
        };
        read(&connection).map_err(database_error)
    }

    /// The session whose token has this SHA-256, with its user.
    pub fn session_with_user(&self, token_hash: &str) -> Result<Option<(session::Model, user::Model)>, DbErr> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(&SESSION_WITH_USER)?;
            statement.query_row([token_hash], session_and_user).optional()
        })
    }

    /// The session whose token has this SHA-256, with its user and the user's identities
    /// (oldest first), in one statement.
    pub fn session_with_identities(&self, token_hash: &str) -> Result<Option<SessionWithIdentities>, DbErr> {
        self.session_with(&SESSION_WITH_IDENTITIES, token_hash, identity_at)
    }

    /// The session whose token has this SHA-256, with its user and the user's identities
    /// (oldest first), each with the state of the tokens held for it: all a page shows of the
    /// person, in one statement (one read transaction, where two would each take SQLite's
    /// shared-memory lock twice, on which the threads serving requests then wait).
    pub fn session_with_identities_and_tokens(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionWith<IdentityWithTokens>>, DbErr> {
        self.session_with(&SESSION_WITH_IDENTITIES_AND_TOKENS, token_hash, identity_with_tokens_at)
    }

    /// Runs `sql` (the session's and user's columns, then an identity's from
    /// [`IDENTITY_AFTER_USER`], read by `identity`) for the session whose token has this SHA-256.
    fn session_with<I>(
        &self,
        sql: &str,
        token_hash: &str,
        identity: fn(&Row<'_>, usize) -> rusqlite::Result<I>,
    ) -> Result<Option<SessionWith<I>>, DbErr> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let mut rows = statement.query([token_hash])?;
            let mut found = None;
            let mut identities = Vec::new();
            while let Some(row) = rows.next()? {
                if found.is_none() {
                    found = Some(session_and_user(row)?);
                }
                // A user without identities still has its one row, with NULL identity columns.
                if row.get_ref(IDENTITY_AFTER_USER)?.data_type() != rusqlite::types::Type::Null {
                    identities.push(identity(row, IDENTITY_AFTER_USER)?);
                }
            }
            Ok(found.map(|(session, user)| (session, user, identities)))
        })
    }

    /// A user's identities, oldest first.
    pub fn identities_of(&self, user_id: &str) -> Result<Vec<identity::Model>, DbErr> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(&IDENTITIES_OF)?;
            statement.query_map([user_id], |row| identity_at(row, 0)).and_then(Iterator::collect)
        })
    }

    /// A user's identities, oldest first, each with the state of the tokens held for it.
    pub fn identities_with_tokens(&self, user_id: &str) -> Result<Vec<IdentityWithTokens>, DbErr> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(&IDENTITIES_WITH_TOKENS)?;
            statement.query_map([user_id], |row| identity_with_tokens_at(row, 0)).and_then(Iterator::collect)
        })
    }
}

/// The [`SESSION_AND_USER_COLUMNS`] of a row (the first [`IDENTITY_AFTER_USER`]).
fn session_and_user(row: &Row<'_>) -> rusqlite::Result<(session::Model, user::Model)> {
    let session = session::Model {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        user_id: row.get(2)?,
        identity_id: row.get(3)?,
        created_at: time(row, 4)?,
        last_seen_at: time(row, 5)?,
        expires_at: time(row, 6)?,
        user_agent: row.get(7)?,
        ip: row.get(8)?,
        provider_sid: row.get(9)?,
        id_token: row.get(10)?,
        id_token_key_id: row.get(11)?,
    };
    let user = user::Model {
        id: row.get(12)?,
        display_name: row.get(13)?,
        email: row.get(14)?,
        picture: row.get(15)?,
        created_at: time(row, 16)?,
        updated_at: time(row, 17)?,
        disabled_at: optional_time(row, 18)?,
    };
    Ok((session, user))
}

/// The [`IDENTITY_COLUMNS`] of a row, starting at column `at`.
fn identity_at(row: &Row<'_>, at: usize) -> rusqlite::Result<identity::Model> {
    Ok(identity::Model {
        id: row.get(at)?,
        user_id: row.get(at + 1)?,
        provider_id: row.get(at + 2)?,
        issuer: row.get(at + 3)?,
        subject: row.get(at + 4)?,
        name: row.get(at + 5)?,
        email: row.get(at + 6)?,
        email_verified: row.get(at + 7)?,
        picture: row.get(at + 8)?,
        created_at: time(row, at + 9)?,
        last_used_at: time(row, at + 10)?,
    })
}

/// The [`IDENTITY_COLUMNS`] from column `at`, then the token's status, expiry and scopes.
fn identity_with_tokens_at(row: &Row<'_>, at: usize) -> rusqlite::Result<IdentityWithTokens> {
    let status_at = at + IDENTITY_COLUMN_COUNT;
    let status = row
        .get::<_, Option<String>>(status_at)?
        .map(|status| TokenStatus::try_from_value(&status).map_err(|e| conversion(status_at, e)))
        .transpose()?;
    Ok((identity_at(row, at)?, status, optional_time(row, status_at + 1)?, row.get(status_at + 2)?))
}

/// A timestamp as sqlx stores it in SQLite (RFC 3339 text, `T` or space between date and time).
fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    optional_time(row, index)?.ok_or_else(|| conversion(index, "a timestamp is missing"))
}

fn optional_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let Some(text) = row.get_ref(index)?.as_str_or_null()? else { return Ok(None) };
    parse_time(text).map(Some).ok_or_else(|| conversion(index, format!("`{text}` is not a timestamp")))
}

/// Read in place: no copy of the text.
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    utc_as_sqlx_writes_it(text).or_else(|| parse_any_offset(text))
}

/// The one form sqlx writes a UTC time in (`2025-11-30T10:53:20.123456+00:00`, the fraction's
/// digits as needed), read digit by digit: a page reads about ten timestamps, and chrono's
/// general parser cost more than the rest of reading the row. Anything else is `None`.
fn utc_as_sqlx_writes_it(text: &str) -> Option<DateTime<Utc>> {
    let text = text.as_bytes().strip_suffix(b"+00:00")?;
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if text.len() < 19 || separators.iter().any(|&(at, separator)| text[at] != separator) {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &digit| digit.is_ascii_digit().then(|| n * 10 + u32::from(digit - b'0')))
    };
    let nanoseconds = match &text[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(&text[0..4])?).ok()?,
        number(&text[5..7])?,
        number(&text[8..10])?,
    )?;
    let time = chrono::NaiveTime::from_hms_nano_opt(
        number(&text[11..13])?,
        number(&text[14..16])?,
        number(&text[17..19])?,
        nanoseconds,
    )?;
    Some(date.and_time(time).and_utc())
}

/// RFC 3339 with any offset, `T` or space between date and time.
fn parse_any_offset(text: &str) -> Option<DateTime<Utc>> {
    let parsed = match text.as_bytes().get(10) {
        Some(b'T') => DateTime::parse_from_rfc3339(text).ok(),
        _ => DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z").ok(),
    };
    parsed.map(|time| time.with_timezone(&Utc))
}

fn conversion(index: usize, error: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error.to_string().into())
}

/// As the writer reports SQLite's failures (busy, locked: the codes `Transient` knows).
fn database_error(error: rusqlite::Error) -> DbErr {
    DbErr::Query(super::writer::runtime_error(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_persons_identities_come_in_link_order_without_a_sort() {
        let (database, dir) = crate::storage::tests::scratch_database().await;
        let connection = Connection::open(dir.join("db.sqlite")).expect("opens");
        for sql in
            [&*SESSION_WITH_IDENTITIES, &*SESSION_WITH_IDENTITIES_AND_TOKENS, &*IDENTITIES_OF, &*IDENTITIES_WITH_TOKENS]
        {
            let mut explain = connection.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("explains");
            let plan: Vec<String> =
                explain.query_map(["someone"], |row| row.get(3)).and_then(Iterator::collect).expect("the plan");
            assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "a sort for {sql}: {plan:?}");
        }
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_column_offsets_match_the_column_lists() {
        assert_eq!(SESSION_AND_USER_COLUMNS.split(',').count(), IDENTITY_AFTER_USER);
        assert_eq!(IDENTITY_COLUMNS.split(',').count(), IDENTITY_COLUMN_COUNT);
    }

    #[test]
    fn timestamps_read_as_sqlx_writes_them() {
        let expected = chrono::DateTime::from_timestamp(1_764_500_000, 123_456_000).expect("a time");
        for text in ["2025-11-30T10:53:20.123456+00:00", "2025-11-30 10:53:20.123456+00:00"] {
            assert_eq!(super::parse_time(text), Some(expected), "{text}");
        }
        assert_eq!(super::parse_time("yesterday"), None);
    }

    proptest::proptest! {
        /// The quick reading of sqlx's form agrees with chrono's, to the nanosecond, and
        /// leaves every other form to chrono.
        #[test]
        fn the_quick_reading_agrees_with_chrono(
            seconds in -62_135_596_800i64..253_402_300_799,
            nanoseconds in proptest::prop_oneof![0u32..1_000_000_000, proptest::sample::select(vec![0, 120_000_000, 123_456_000])],
            offset_minutes in proptest::prop_oneof![proptest::strategy::Just(0i32), -1439i32..1439],
        ) {
            let time = chrono::DateTime::from_timestamp(seconds, nanoseconds).expect("in range");
            let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).expect("an offset");
            let written = time.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
            proptest::prop_assert_eq!(super::parse_time(&written), Some(time), "{}", written);
            proptest::prop_assert_eq!(super::parse_any_offset(&written), Some(time), "{}", written);
        }
    }
}
