//! The writer: where every insert, update and delete goes, and the transactions that make them.
//!
//! On a SQLite file that is one rusqlite connection of latchkey's own, used on the calling
//! thread ([`InlineWriter`]). sqlx runs a SQLite connection on a worker thread of its own, so
//! each statement was a trip there and back, and each handing back of a pooled connection one
//! more (sqlx checks it with a ping): ten trips per sign-in, which cost more than the
//! statements (a write of a few rows takes tens of microseconds). Writers still take turns, as
//! with the pool of one they replace: an async lock, held for a statement or a transaction.
//! PostgreSQL (and SQLite in memory, the tests' own databases) keep sea-orm's pools.
//!
//! The inline writer speaks sea-orm's [`ConnectionTrait`], so the code above it is the same
//! for both: statements are the SQL text and values sea-orm renders for SQLite; answers come
//! back as sea-orm rows ([`ProxyRow`]), each value typed by its column's declared type, and
//! failures as the sqlx database errors sea-orm would report (same codes: busy, unique).
//! A proxy row keeps its columns in the order of their names: read answers by name (models
//! and one-column tuples do; a tuple of several columns, read by position, would not).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::SecondsFormat;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, OpenFlags, ToSql};
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    ProxyExecResult, ProxyRow, QueryResult, RuntimeErr, Statement, TransactionTrait, Value,
};
use tokio::sync::OwnedMutexGuard;

use super::inline::parse_time;

/// Where writes go: the inline SQLite writer, or a sea-orm pool.
#[derive(Clone, Debug)]
pub enum Writer {
    Inline(Arc<InlineWriter>),
    Pool(DatabaseConnection),
}

/// A transaction on the [`Writer`]: dropped without [`Transaction::commit`], it is rolled back.
pub enum Transaction {
    Inline(InlineTransaction),
    Pool(DatabaseTransaction),
}

impl Writer {
    pub async fn begin(&self) -> Result<Transaction, DbErr> {
        match self {
            Writer::Inline(writer) => writer.begin().await.map(Transaction::Inline),
            Writer::Pool(pool) => pool.begin().await.map(Transaction::Pool),
        }
    }

    /// Closes the connection(s): writes after this fail.
    pub async fn close(self) {
        match self {
            Writer::Inline(writer) => writer.close().await,
            Writer::Pool(pool) => {
                let _ = pool.close().await;
            }
        }
    }
}

impl Transaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        match self {
            Transaction::Inline(txn) => txn.commit(),
            Transaction::Pool(txn) => txn.commit().await,
        }
    }
}

/// Both enums answer as the connection they hold.
macro_rules! delegate_connection_trait {
    ($type:ident) => {
        #[async_trait::async_trait]
        impl ConnectionTrait for $type {
            fn get_database_backend(&self) -> DbBackend {
                match self {
                    $type::Inline(_) => DbBackend::Sqlite,
                    $type::Pool(db) => db.get_database_backend(),
                }
            }

            async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                match self {
                    $type::Inline(db) => db.execute(stmt).await,
                    $type::Pool(db) => db.execute(stmt).await,
                }
            }

            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                match self {
                    $type::Inline(db) => db.execute_unprepared(sql).await,
                    $type::Pool(db) => db.execute_unprepared(sql).await,
                }
            }

            async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                match self {
                    $type::Inline(db) => db.query_one(stmt).await,
                    $type::Pool(db) => db.query_one(stmt).await,
                }
            }

            async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                match self {
                    $type::Inline(db) => db.query_all(stmt).await,
                    $type::Pool(db) => db.query_all(stmt).await,
                }
            }
        }
    };
}

delegate_connection_trait!(Writer);
delegate_connection_trait!(Transaction);

/// SQLite's one writer connection, used on the calling thread; see the module's comment.
pub struct InlineWriter {
    /// `None` once closed.
    connection: Arc<tokio::sync::Mutex<Option<Connection>>>,
    /// How long a write waits for its turn before it fails.
    turn_timeout: Duration,
    checkpoints: Arc<Checkpoints>,
}

impl std::fmt::Debug for InlineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineWriter").finish_non_exhaustive()
    }
}

impl InlineWriter {
    /// The writer for the (migrated, WAL) database file at `path`. A statement waits up to
    /// `busy_timeout` for a lock another process holds (blocking its thread: SQLite's own
    /// wait), and up to `turn_timeout` for this process's other writers (asynchronously).
    pub fn open(path: &Path, busy_timeout: Duration, turn_timeout: Duration) -> Result<Self, DbErr> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|e| DbErr::Conn(runtime_error(e)))?;
        connection.busy_timeout(busy_timeout).map_err(|e| DbErr::Conn(runtime_error(e)))?;
        // Per connection, as the sqlx writer had them: NORMAL is durable across application
        // crashes and loses at most the last commits on power loss, the usual choice with WAL.
        // No automatic checkpoints: see `Checkpoints`.
        connection
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
            .map_err(|e| DbErr::Conn(runtime_error(e)))?;
        let connection = Arc::new(tokio::sync::Mutex::new(Some(connection)));
        let checkpoints = Checkpoints::start(&connection);
        Ok(InlineWriter { connection, turn_timeout, checkpoints })
    }

    async fn close(&self) {
        self.connection.lock().await.take();
        self.checkpoints.stop();
    }

    /// Whether no statement or transaction holds the writer now (for the metrics).
    pub fn is_free(&self) -> bool {
        self.connection.try_lock().is_ok()
    }

    /// Waits for the writer's turn, then gives it back at once (for the metrics: how long a
    /// write would wait now).
    pub async fn wait_for_turn(&self) {
        drop(self.connection.lock().await);
    }

    /// `BEGIN IMMEDIATE`: the write lock is taken at the start, so a transaction that reads
    /// first never finds the file changed under it by another process when it comes to write.
    pub async fn begin(&self) -> Result<InlineTransaction, DbErr> {
        let connection = self.turn(self.connection.clone().lock_owned()).await?;
        run(open(&connection)?, &Statement::from_string(DbBackend::Sqlite, "BEGIN IMMEDIATE"))?;
        Ok(InlineTransaction { connection: Mutex::new(connection), checkpoints: self.checkpoints.clone() })
    }

    /// Runs `work` in the writer's turn (a statement outside a transaction: it commits).
    async fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        let done = work(open(&*self.turn(self.connection.lock()).await?)?);
        self.checkpoints.committed();
        done
    }

    /// Waits for the writer's turn, as a pool's acquire would: a writer stuck (a transaction
    /// left waiting on something that never comes) fails the writes behind it, not hangs them.
    async fn turn<G>(&self, lock: impl Future<Output = G>) -> Result<G, DbErr> {
        tokio::time::timeout(self.turn_timeout, lock)
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.with(|connection| run(connection, &stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.with(|connection| run_unprepared(connection, sql)).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.with(|connection| query(connection, &stmt, Some(1))).await.map(|rows| rows.into_iter().next())
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.with(|connection| query(connection, &stmt, None)).await
    }
}

fn open(connection: &Option<Connection>) -> Result<&Connection, DbErr> {
    connection.as_ref().ok_or_else(|| DbErr::Conn(RuntimeErr::Internal("the database is closed".into())))
}

/// A transaction holding the [`InlineWriter`] until it commits or is dropped (rolled back).
pub struct InlineTransaction {
    // The lock is the writer's turn; this `Mutex` only makes the connection shareable between
    // the statements of the one task that holds the turn (it is never contended).
    connection: Mutex<OwnedMutexGuard<Option<Connection>>>,
    checkpoints: Arc<Checkpoints>,
}

impl InlineTransaction {
    /// Runs `work` on the connection (open: `begin` found it so, and the turn is held since).
    fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        work(open(&self.connection.lock().unwrap_or_else(PoisonError::into_inner))?)
    }

    fn commit(self) -> Result<(), DbErr> {
        self.with(|connection| run(connection, &Statement::from_string(DbBackend::Sqlite, "COMMIT")))?;
        self.checkpoints.committed();
        Ok(())
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.with(|connection| run(connection, &stmt))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.with(|connection| run_unprepared(connection, sql))
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.with(|connection| query(connection, &stmt, Some(1))).map(|rows| rows.into_iter().next())
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.with(|connection| query(connection, &stmt, None))
    }
}

impl Drop for InlineTransaction {
    /// Not committed (or the commit failed): nothing of it is kept, before the next writer's turn.
    fn drop(&mut self) {
        let _ = self.with(|connection| {
            if !connection.is_autocommit() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            Ok(())
        });
    }
}

impl Drop for InlineWriter {
    fn drop(&mut self) {
        self.checkpoints.stop();
    }
}

/// WAL checkpoints (copying the pages written to the log back into the database file), off the
/// threads that serve requests. SQLite's automatic checkpoint runs inside the commit that
/// crosses its threshold, on the committing thread, here a request's: 15 ms on the benchmark
/// machine for a thousand pages, every thirty-odd sign-ins, during which that thread serves
/// nobody. Instead the writer counts its commits and every [`COMMITS_PER_CHECKPOINT`] wakes a
/// task that takes the writer's turn, as a write does, and runs the checkpoint on a blocking
/// thread: writers wait for it (asynchronously) as they waited for the automatic one, and with
/// nothing written meanwhile it completes, so the log starts over. (On a connection of its own,
/// running beside the writes, it cost a sign-in a tenth more CPU.)
struct Checkpoints {
    commits: AtomicU32,
    due: tokio::sync::Notify,
    stopped: AtomicBool,
}

/// About a thousand pages of log at a sign-in's four commits and 33 pages, SQLite's own
/// threshold.
const COMMITS_PER_CHECKPOINT: u32 = 128;

impl Checkpoints {
    fn start(writer: &Arc<tokio::sync::Mutex<Option<Connection>>>) -> Arc<Self> {
        let checkpoints = Arc::new(Checkpoints {
            commits: AtomicU32::new(0),
            due: tokio::sync::Notify::new(),
            stopped: AtomicBool::new(false),
        });
        let (watcher, writer) = (checkpoints.clone(), Arc::downgrade(writer));
        tokio::spawn(async move {
            loop {
                watcher.due.notified().await;
                let Some(writer) = writer.upgrade().filter(|_| !watcher.stopped.load(Ordering::Relaxed)) else {
                    break;
                };
                let turn = writer.lock_owned().await;
                let checkpointed = tokio::task::spawn_blocking(move || {
                    open(&turn)?
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        .map_err(|e| DbErr::Exec(runtime_error(e)))
                })
                .await;
                if let Ok(Err(error)) = checkpointed {
                    tracing::warn!(%error, "a WAL checkpoint failed; the next one takes up what it left");
                }
            }
        });
        checkpoints
    }

    fn committed(&self) {
        if self.commits.fetch_add(1, Ordering::Relaxed) + 1 >= COMMITS_PER_CHECKPOINT {
            self.commits.store(0, Ordering::Relaxed);
            self.due.notify_one();
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.due.notify_one();
    }
}

/// Runs one statement (its answer rows, if any, are read and dropped).
fn run(connection: &Connection, stmt: &Statement) -> Result<ExecResult, DbErr> {
    let mut statement = prepared(connection, stmt).map_err(|e| DbErr::Exec(runtime_error(e)))?;
    let mut rows = statement.raw_query();
    while rows.next().map_err(|e| DbErr::Exec(runtime_error(e)))?.is_some() {}
    Ok(exec_result(connection))
}

/// Runs SQL text of any number of statements without values (migrations, tests).
fn run_unprepared(connection: &Connection, sql: &str) -> Result<ExecResult, DbErr> {
    connection.execute_batch(sql).map_err(|e| DbErr::Exec(runtime_error(e)))?;
    Ok(exec_result(connection))
}

fn exec_result(connection: &Connection) -> ExecResult {
    // A rowid is never negative; sea-orm keeps it as u64.
    let last_insert_id = u64::try_from(connection.last_insert_rowid()).unwrap_or_default();
    ProxyExecResult { last_insert_id, rows_affected: connection.changes() }.into()
}

/// The answer rows of one statement, at most `limit`.
fn query(connection: &Connection, stmt: &Statement, limit: Option<usize>) -> Result<Vec<QueryResult>, DbErr> {
    let query_error = |e| DbErr::Query(runtime_error(e));
    let mut statement = prepared(connection, stmt).map_err(query_error)?;
    let columns: Vec<(String, ColumnKind)> = statement
        .columns()
        .iter()
        .map(|column| (column.name().to_string(), ColumnKind::declared(column.decl_type())))
        .collect();
    let mut rows = statement.raw_query();
    let mut answer = Vec::new();
    while limit.is_none_or(|limit| answer.len() < limit) {
        let Some(row) = rows.next().map_err(query_error)? else { break };
        let mut values = BTreeMap::new();
        for (index, (name, kind)) in columns.iter().enumerate() {
            let value = row.get_ref(index).map_err(query_error)?;
            values.insert(name.clone(), kind.value(value).map_err(|e| DbErr::Query(RuntimeErr::Internal(e)))?);
        }
        answer.push(ProxyRow { values }.into());
    }
    Ok(answer)
}

/// The statement, from the connection's cache, with its values bound.
fn prepared<'c>(connection: &'c Connection, stmt: &Statement) -> rusqlite::Result<CachedStatement<'c>> {
    let mut statement = connection.prepare_cached(&stmt.sql)?;
    let values = stmt.values.as_ref().map_or(&[][..], |values| values.0.as_slice());
    if values.len() != statement.parameter_count() {
        return Err(rusqlite::Error::InvalidParameterCount(values.len(), statement.parameter_count()));
    }
    for (index, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(index + 1, Bound(value))?;
    }
    Ok(statement)
}

/// A sea-orm value as sqlx binds it to SQLite, so that both write the same text: timestamps
/// as RFC 3339 (`…T…+00:00`, the fraction's digits as needed), booleans as 0 and 1.
struct Bound<'a>(&'a Value);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        let null = ToSqlOutput::Owned(Owned::Null);
        let integer = |n: Option<i64>| n.map_or(ToSqlOutput::Owned(Owned::Null), ToSqlOutput::from);
        Ok(match self.0 {
            Value::Bool(b) => integer(b.map(i64::from)),
            Value::TinyInt(n) => integer(n.map(i64::from)),
            Value::SmallInt(n) => integer(n.map(i64::from)),
            Value::Int(n) => integer(n.map(i64::from)),
            Value::BigInt(n) => integer(*n),
            Value::TinyUnsigned(n) => integer(n.map(i64::from)),
            Value::SmallUnsigned(n) => integer(n.map(i64::from)),
            Value::Unsigned(n) => integer(n.map(i64::from)),
            Value::BigUnsigned(n) => match n.map(i64::try_from).transpose() {
                Ok(n) => integer(n),
                Err(e) => return Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))),
            },
            Value::Float(x) => x.map_or(null, |x| ToSqlOutput::from(f64::from(x))),
            Value::Double(x) => x.map_or(null, ToSqlOutput::from),
            Value::String(s) => s.as_deref().map_or(null, |s| ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))),
            Value::Char(c) => c.map_or(null, |c| ToSqlOutput::from(c.to_string())),
            Value::Bytes(b) => b.as_deref().map_or(null, |b| ToSqlOutput::Borrowed(ValueRef::Blob(b))),
            Value::ChronoDateTimeUtc(t) => {
                t.as_deref().map_or(null, |t| ToSqlOutput::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, false)))
            }
            Value::ChronoDateTimeWithTimeZone(t) => {
                t.as_deref().map_or(null, |t| ToSqlOutput::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, false)))
            }
            Value::ChronoDateTime(t) => {
                t.as_deref().map_or(null, |t| ToSqlOutput::from(t.format("%F %T%.f").to_string()))
            }
            other => {
                let unsupported = format!("latchkey's SQLite writer binds no {other:?}");
                return Err(rusqlite::Error::ToSqlConversionFailure(unsupported.into()));
            }
        })
    }
}

/// What a column holds, by its declared type: what sea-orm's models expect to read from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColumnKind {
    Timestamp,
    Boolean,
    /// Text, numbers, blobs: read as SQLite stores them. Also every expression (no declared type).
    AsStored,
}

impl ColumnKind {
    /// The kinds of the migrations' column types (`timestamp_with_timezone_text`, `boolean`).
    fn declared(decl_type: Option<&str>) -> Self {
        match decl_type.map(str::to_ascii_lowercase) {
            Some(declared) if declared.contains("timestamp") || declared.contains("datetime") => Self::Timestamp,
            Some(declared) if declared.contains("bool") => Self::Boolean,
            _ => Self::AsStored,
        }
    }

    fn value(self, stored: ValueRef<'_>) -> Result<Value, String> {
        Ok(match (self, stored) {
            // sea-orm reads an absent value into an `Option` whatever its variant.
            (Self::Timestamp, ValueRef::Null) => Value::ChronoDateTimeUtc(None),
            (Self::Boolean, ValueRef::Null) => Value::Bool(None),
            (Self::AsStored, ValueRef::Null) => Value::String(None),
            (Self::Timestamp, ValueRef::Text(text)) => {
                let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
                let time = parse_time(text).ok_or_else(|| format!("`{text}` is not a timestamp"))?;
                Value::ChronoDateTimeUtc(Some(Box::new(time)))
            }
            (Self::Boolean, ValueRef::Integer(n)) => Value::Bool(Some(n != 0)),
            // sea-orm reads SQLite's counts as i32.
            (_, ValueRef::Integer(n)) => match i32::try_from(n) {
                Ok(n) => Value::Int(Some(n)),
                Err(_) => Value::BigInt(Some(n)),
            },
            (_, ValueRef::Real(x)) => Value::Double(Some(x)),
            (_, ValueRef::Text(text)) => {
                Value::String(Some(Box::new(std::str::from_utf8(text).map_err(|e| e.to_string())?.to_owned())))
            }
            (_, ValueRef::Blob(bytes)) => Value::Bytes(Some(Box::new(bytes.to_vec()))),
        })
    }
}

/// A failure SQLite reported, as the sqlx database error sea-orm would have passed on: the
/// extended result code as its code (busy and locked are retried, `storage::Transient`), and
/// its kind (a unique key taken: a concurrent sign-in won).
#[derive(Debug, thiserror::Error)]
#[error("SQLite: {message} (code {code})")]
pub struct SqliteFailure {
    code: i32,
    message: String,
}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A rusqlite failure as sea-orm's runtime error: SQLite's own as a [`SqliteFailure`], any
/// other (a value that does not convert, say) as text. The inline reads report theirs so too.
pub(super) fn runtime_error(error: rusqlite::Error) -> RuntimeErr {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.unwrap_or_else(|| failure.to_string());
            let failure = SqliteFailure { code: failure.extended_code, message };
            RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(Box::new(failure)))
        }
        other => RuntimeErr::Internal(format!("SQLite: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_as_sqlx_binds_them() {
        let connection = Connection::open_in_memory().expect("opens");
        let time = chrono::DateTime::from_timestamp(1_764_500_000, 123_456_000).expect("a time");
        let cases: [(Value, &str); 5] = [
            (time.into(), "2025-11-30T10:53:20.123456+00:00"),
            (chrono::DateTime::from_timestamp(1_764_500_000, 0).expect("a time").into(), "2025-11-30T10:53:20+00:00"),
            (true.into(), "1"),
            (Option::<String>::None.into(), "NULL"),
            ("it's".into(), "it's"),
        ];
        for (value, stored) in cases {
            let shown: String = connection
                .query_row("SELECT coalesce(CAST(?1 AS TEXT), 'NULL')", [Bound(&value)], |row| row.get(0))
                .expect("binds");
            assert_eq!(shown, stored, "{value:?}");
        }
    }

    #[test]
    fn a_taken_unique_key_is_reported_as_sqlx_reports_it() {
        let connection = Connection::open_in_memory().expect("opens");
        connection.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY); INSERT INTO t VALUES ('a');").expect("a table");
        let insert = Statement::from_sql_and_values(DbBackend::Sqlite, "INSERT INTO t VALUES (?)", ["a".into()]);

        let failed = run(&connection, &insert).expect_err("the key is taken");

        let DbErr::Exec(RuntimeErr::SqlxError(error)) = failed else { panic!("not a database error: {failed:?}") };
        let error = error.as_database_error().expect("a database error");
        assert_eq!(error.kind(), ErrorKind::UniqueViolation);
        assert_eq!(error.code().as_deref(), Some("1555"));
    }

    #[test]
    fn columns_come_back_typed_by_their_declared_types() {
        let connection = Connection::open_in_memory().expect("opens");
        connection
            .execute_batch(
                "CREATE TABLE t (at timestamp_with_timezone_text, gone timestamp_with_timezone_text, yes boolean, \
                 name varchar(64));
                 INSERT INTO t VALUES ('2025-11-30T10:53:20.123456+00:00', NULL, 1, 'Ada');",
            )
            .expect("a row");
        let select = Statement::from_string(DbBackend::Sqlite, "SELECT at, gone, yes, name, count(*) AS n FROM t");

        let rows = query(&connection, &select, None).expect("answers");

        let [row] = rows.as_slice() else { panic!("one row: {rows:?}") };
        let at: chrono::DateTime<chrono::Utc> = row.try_get("", "at").expect("a timestamp");
        assert_eq!(at, chrono::DateTime::from_timestamp(1_764_500_000, 123_456_000).expect("a time"));
        assert_eq!(row.try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "gone").expect("absent"), None);
        assert!(row.try_get::<bool>("", "yes").expect("a boolean"));
        assert_eq!(row.try_get::<String>("", "name").expect("text"), "Ada");
        assert_eq!(row.try_get::<i32>("", "n").expect("a count"), 1);
    }

    #[tokio::test]
    async fn a_transaction_dropped_before_its_commit_keeps_nothing_and_frees_the_writer() {
        let (database, dir) = crate::storage::tests::scratch_database().await;
        let insert = |id: &str| {
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO admin_grants (email, granted_at) VALUES (?, ?)",
                [id.into(), chrono::Utc::now().into()],
            )
        };
        let count = "SELECT count(*) AS n FROM admin_grants";

        let abandoned = database.begin().await.expect("begins");
        abandoned.execute(insert("a@example.test")).await.expect("inserts");
        drop(abandoned);
        let kept = database.begin().await.expect("the writer is free again");
        kept.execute(insert("b@example.test")).await.expect("inserts");
        kept.commit().await.expect("commits");

        let stored = database.writes().query_one(Statement::from_string(DbBackend::Sqlite, count)).await;
        let stored: i32 = stored.expect("counts").expect("a row").try_get("", "n").expect("a count");
        assert_eq!(stored, 1, "only the committed row");
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn writes_wait_for_a_transactions_turn_and_fail_once_the_wait_is_too_long() {
        let (database, dir) = crate::storage::tests::scratch_database().await;
        let Writer::Inline(writer) = database.writes() else { panic!("a SQLite file has the inline writer") };
        let writer = InlineWriter {
            connection: writer.connection.clone(),
            turn_timeout: Duration::from_millis(50),
            checkpoints: writer.checkpoints.clone(),
        };
        let holding = writer.begin().await.expect("begins");

        let waited = writer.execute(Statement::from_string(DbBackend::Sqlite, "DELETE FROM admin_grants")).await;

        assert!(matches!(waited, Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))), "{waited:?}");
        drop(holding);
        assert!(writer.is_free());
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_closed_writer_refuses_writes() {
        let (database, dir) = crate::storage::tests::scratch_database().await;
        let writer = database.writes().clone();

        database.close().await;

        let refused = writer.execute_unprepared("DELETE FROM admin_grants").await;
        assert!(matches!(refused, Err(DbErr::Conn(_))), "{refused:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_log_is_checkpointed_by_a_task_of_its_own_not_by_the_writers_commits() {
        let (database, dir) = crate::storage::tests::scratch_database().await;
        let file = dir.join("db.sqlite");
        let writes = database.writes();
        let automatic = writes.query_one(Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_autocheckpoint")).await;
        let automatic: i32 =
            automatic.expect("asks").expect("a row").try_get("", "wal_autocheckpoint").expect("a number");
        assert_eq!(automatic, 0, "the writer's commits never checkpoint");
        let size_before = std::fs::metadata(&file).expect("the file").len();

        for n in 0..COMMITS_PER_CHECKPOINT {
            let grant = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO admin_grants (email, granted_at) VALUES (?, ?)",
                [format!("{n}-{}@example.test", "x".repeat(2000)).into(), chrono::Utc::now().into()],
            );
            writes.execute(grant).await.expect("inserts");
        }

        // Pages reach the database file only through a checkpoint.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).expect("the file").len() == size_before {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
