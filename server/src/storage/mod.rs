//! Storage: the database connections, sea-orm entities and migrations, and the one rule for
//! changing data — a unit of work goes through [`Database::writes`] inside [`retry`].
//!
//! SQLite lets one connection write at a time, and a deferred transaction that read first
//! cannot take the write lock after another connection committed (`SQLITE_BUSY_SNAPSHOT`,
//! which no busy timeout cures). So latchkey gives SQLite exactly one writer connection
//! ([`Writer`]; on a file, used on the calling thread), where writers take turns inside the
//! process instead of failing, while reads use query-only connections that WAL lets run
//! during a write. PostgreSQL uses one pool for both.

pub mod entities;
mod inline;
mod migrations;
pub mod prepared;
mod writer;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr, SqlxPostgresConnector, SqlxSqliteConnector, TransactionTrait};
use sea_orm_migration::MigratorTrait;

pub use inline::{IdentityWithTokens, InlineReads, SessionWith};
pub use migrations::Migrator;
pub use writer::{InlineWriter, Transaction, Writer};

/// How long a SQLite statement waits for a lock held by another process before it fails.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Query-only SQLite connections; more would only queue on two cores' worth of CPU.
const SQLITE_READERS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 16;
/// A write waits this long for the writer connection; writes take milliseconds, so only a
/// database that has stopped answering (or a writer left holding its turn) gets near it.
const WRITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const READ_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A PostgreSQL connection idle this long is checked (a round trip) before it is used again.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// latchkey's database: where to read, where to write.
#[derive(Clone, Debug)]
pub struct Database {
    reads: DatabaseConnection,
    writes: Writer,
    /// SQLite files: the hot reads, run inline (see [`InlineReads`]).
    inline: Option<std::sync::Arc<InlineReads>>,
}

impl Database {
    /// Connects and brings the schema up to date. SQLite files are created on first run.
    pub async fn connect(database_url: &str) -> Result<Database, DbErr> {
        let database = if database_url.starts_with("sqlite:") {
            // Connections opening a new file at the same moment all turn it to WAL; SQLite
            // answers one of two that collide there "busy" at once, without waiting (waiting
            // could deadlock). Connecting again finds the file in WAL and goes through.
            retry(|| connect_sqlite(database_url)).await?
        } else {
            connect_postgres(database_url).await?
        };
        Ok(database)
    }

    /// For queries. On SQLite these connections refuse to write (`query_only`), so a write
    /// that forgot to use [`Database::writes`] fails loudly in the tests.
    pub fn reads(&self) -> &DatabaseConnection {
        &self.reads
    }

    /// The hot reads on the calling thread, where the database is a SQLite file.
    pub fn inline(&self) -> Option<&InlineReads> {
        self.inline.as_deref()
    }

    /// For every insert, update and delete, and for transactions that make them.
    pub fn writes(&self) -> &Writer {
        &self.writes
    }

    /// Begins a transaction on the writer.
    pub async fn begin(&self) -> Result<Transaction, DbErr> {
        self.writes.begin().await
    }

    pub async fn close(self) {
        let _ = self.reads.close().await;
        self.writes.close().await;
    }
}

async fn connect_sqlite(database_url: &str) -> Result<Database, DbErr> {
    let options = SqliteConnectOptions::from_str(database_url)
        .map_err(|e| DbErr::Conn(RuntimeErr::Internal(format!("invalid SQLite URL: {e}"))))?
        // Every connection gets these at connect time (a PRAGMA sent through a pool
        // reaches only the one connection that ran it).
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        .disable_statement_logging();
    let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");
    let writer_options = if in_memory {
        options.clone()
    } else {
        // WAL: readers never wait for the writer. NORMAL is durable across application crashes
        // and loses at most the last commits on power loss, the usual choice with WAL.
        options.clone().journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal)
    };
    // No ping before handing out a connection: an in-process SQLite connection cannot have
    // gone away, and each ping is a round trip to the connection's worker thread.
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(WRITE_ACQUIRE_TIMEOUT)
        .connect_with(writer_options)
        .await
        .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?;
    let writes = SqlxSqliteConnector::from_sqlx_sqlite_pool(writer);
    migrate_sqlite(&writes).await?;
    if in_memory {
        // Each connection to `:memory:` would be a database of its own.
        return Ok(Database { reads: writes.clone(), writes: Writer::Pool(writes), inline: None });
    }
    // The sqlx writer created and migrated the file; from here on the inline one writes.
    let _ = writes.close().await;
    let writer = InlineWriter::open(options.get_filename(), SQLITE_BUSY_TIMEOUT, WRITE_ACQUIRE_TIMEOUT)?;
    let inline = InlineReads::open(options.get_filename(), SQLITE_READERS as usize, SQLITE_BUSY_TIMEOUT)?;
    let readers = SqlitePoolOptions::new()
        .max_connections(SQLITE_READERS)
        .test_before_acquire(false)
        .acquire_timeout(READ_ACQUIRE_TIMEOUT)
        .connect_with(options.synchronous(SqliteSynchronous::Normal).pragma("query_only", "ON"))
        .await
        .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?;
    Ok(Database {
        reads: SqlxSqliteConnector::from_sqlx_sqlite_pool(readers),
        writes: Writer::Inline(std::sync::Arc::new(writer)),
        inline: Some(std::sync::Arc::new(inline)),
    })
}

async fn connect_postgres(database_url: &str) -> Result<Database, DbErr> {
    use sea_orm::sqlx::Connection as _;
    let options = PgConnectOptions::from_str(database_url)
        .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(CONNECT_TIMEOUT)
        // sqlx checks every connection with a round trip when it is handed back; one more before
        // each use would double the round trips of a short query. Only a connection that sat
        // idle, during which the server may have restarted, is checked before it is used.
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IF_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| DbErr::Conn(RuntimeErr::SqlxError(e)))?;
    let pool = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    migrate_postgres(&pool).await?;
    Ok(Database { reads: pool.clone(), writes: Writer::Pool(pool), inline: None })
}

/// Any advisory lock id, as long as it is latchkey's own: "latchkey" in ASCII.
const MIGRATION_LOCK: i64 = 0x6c61_7463_686b_6579;

/// Several instances starting at once on an empty database take turns: the first migrates
/// while holding a transaction-scoped advisory lock, the others wait for it and find nothing
/// left to do. (sea-orm's migrator runs PostgreSQL's migrations in one transaction; inside
/// this one it uses a savepoint.)
async fn migrate_postgres(pool: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    let txn = pool.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// SQLite: the migrations run in one `BEGIN IMMEDIATE` transaction on the one writer
/// connection, so another process starting at the same moment waits for the write lock (the
/// busy timeout), then finds nothing left to do; a failed migration leaves nothing behind.
async fn migrate_sqlite(writes: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    writes.execute_unprepared("BEGIN IMMEDIATE").await?;
    match Migrator::up(writes, None).await {
        Ok(()) => writes.execute_unprepared("COMMIT").await.map(|_| ()),
        Err(error) => {
            let _ = writes.execute_unprepared("ROLLBACK").await;
            Err(error)
        }
    }
}

/// Errors after which the same unit of work, run again from the start, can succeed.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for DbErr {
    /// Lock contention: SQLite's busy and locked codes (another process holds the lock),
    /// PostgreSQL's serialization failure and deadlock (one side is rolled back to retry).
    fn is_transient(&self) -> bool {
        let Some(code) = database_error(self).and_then(|e| e.code()) else { return false };
        matches!(
            code.as_ref(),
            // SQLITE_BUSY, _LOCKED, _BUSY_RECOVERY, _LOCKED_SHAREDCACHE, _BUSY_SNAPSHOT, _BUSY_TIMEOUT
            "5" | "6" | "261" | "262" | "517" | "773"
            // serialization_failure, deadlock_detected
            | "40001" | "40P01"
        )
    }
}

/// Whether `error` is a unique key already taken. (sea-orm's `sql_err` knows sqlx's own
/// SQLite errors only, not the [`InlineWriter`]'s.)
pub fn is_unique_violation(error: &DbErr) -> bool {
    database_error(error).is_some_and(|e| e.kind() == sea_orm::sqlx::error::ErrorKind::UniqueViolation)
}

/// The database's own report inside `error`, if it carries one.
fn database_error(error: &DbErr) -> Option<&dyn sea_orm::sqlx::error::DatabaseError> {
    let (DbErr::Exec(RuntimeErr::SqlxError(error))
    | DbErr::Query(RuntimeErr::SqlxError(error))
    | DbErr::Conn(RuntimeErr::SqlxError(error))) = error
    else {
        return None;
    };
    error.as_database_error()
}

/// How many times a unit of work runs at most.
pub const ATTEMPTS: u32 = 5;

/// Runs a unit of work (typically: begin on the writer, change, commit) and runs it again
/// from the start, after a short jittered pause, when it failed with a [`Transient`] error.
/// The unit must be safe to repeat: a failed attempt's transaction was rolled back.
pub async fn retry<T, E, F, Fut>(mut unit: F) -> Result<T, E>
where
    E: Transient + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match unit().await {
            Err(error) if attempt < ATTEMPTS && error.is_transient() => {
                tracing::debug!(attempt, %error, "the database was busy; running the unit of work again");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// 5–10 ms after the first attempt, doubling; random within the range so that the
/// writers that collided do not collide again.
fn backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.saturating_sub(1).min(6);
    Duration::from_millis(rand::thread_rng().gen_range(base..=base * 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flaky(bool);
    impl Transient for Flaky {
        fn is_transient(&self) -> bool {
            self.0
        }
    }
    impl std::fmt::Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "flaky")
        }
    }

    #[tokio::test]
    async fn a_transient_failure_runs_the_unit_again_until_it_succeeds() {
        let mut runs = 0;
        let outcome = retry(|| {
            runs += 1;
            let this_run = runs;
            async move { if this_run < 3 { Err(Flaky(true)) } else { Ok(this_run) } }
        })
        .await;
        assert!(matches!(outcome, Ok(3)));
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let mut runs = 0;
        let outcome: Result<(), Flaky> = retry(|| {
            runs += 1;
            async { Err(Flaky(true)) }
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(runs, ATTEMPTS);
    }

    #[tokio::test]
    async fn other_failures_are_not_retried() {
        let mut runs = 0;
        let outcome: Result<(), Flaky> = retry(|| {
            runs += 1;
            async { Err(Flaky(false)) }
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(runs, 1);
    }

    #[test]
    fn backoff_grows_and_stays_short() {
        assert!(backoff(1) >= Duration::from_millis(5) && backoff(1) <= Duration::from_millis(10));
        assert!(backoff(4) >= Duration::from_millis(40));
        assert!(backoff(30) <= Duration::from_millis(640));
    }

    /// A new SQLite file database in a directory of its own (remove it when done).
    pub(crate) async fn scratch_database() -> (Database, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("latchkey-storage-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
        (Database::connect(&url).await.expect("connects and migrates"), dir)
    }

    #[tokio::test]
    async fn sqlite_reads_cannot_write_and_writes_go_through_one_connection() {
        use sea_orm::ConnectionTrait;
        let (database, dir) = scratch_database().await;

        let refused = database.reads().execute_unprepared("DELETE FROM users").await;
        assert!(refused.is_err(), "a read connection refuses to write");
        database.writes().execute_unprepared("DELETE FROM users").await.expect("the writer writes");
        let journal = database
            .reads()
            .query_one(sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA journal_mode"))
            .await
            .expect("a pragma query")
            .and_then(|row| row.try_get::<String>("", "journal_mode").ok());
        assert_eq!(journal.as_deref(), Some("wal"));
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
