//! Several instances starting at the same moment on an empty database migrate it once, and
//! all of them start.

use latchkey::latchkey_server::storage::{Database, Migrator};
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::MigratorTrait;

use crate::support::{fresh_postgres_database, skip_postgres};

async fn instances_start_at_once(url: &str, instances: usize) {
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..instances {
        let url = url.to_string();
        starts.spawn(async move { Database::connect(&url).await });
    }
    let mut databases = Vec::new();
    while let Some(started) = starts.join_next().await {
        databases.push(started.expect("the task ran").expect("every instance starts"));
    }

    let db = databases[0].reads();
    let applied = db
        .query_one(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM seaql_migrations"))
        .await
        .expect("query")
        .expect("a row");
    let applied: i64 = applied.try_get("", "n").expect("a count");
    let migrations = i64::try_from(Migrator::migrations().len()).expect("a few");
    assert_eq!(applied, migrations, "each migration applied once");
    for database in databases {
        database.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_on_an_empty_sqlite_database_migrate_it_once() {
    let directory = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}?mode=rwc", directory.path().join("latchkey.db").display());
    // Eight: enough that two of them collide while turning the new file to WAL.
    instances_start_at_once(&url, 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_on_an_empty_postgres_database_migrate_it_once() {
    let Some(url) = fresh_postgres_database().await else {
        return skip_postgres("migrations::instances_starting_at_once_on_an_empty_postgres_database_migrate_it_once");
    };
    instances_start_at_once(&url, 4).await;
}

/// The query plan of a sign-in's lookup (its identity, or others with its verified email), on a
/// migrated database at `url`.
async fn plan_of_a_sign_ins_lookup(url: &str) -> String {
    use latchkey::latchkey_server::account::identity_or_verified_email_query;
    use sea_orm::QueryTrait;

    let database = Database::connect(url).await.expect("connects and migrates");
    let txn = database.begin().await.expect("a transaction");
    let backend = txn.get_database_backend();
    let query =
        identity_or_verified_email_query("https://issuer.test", "someone", "Someone@Example.test").build(backend);
    // The explaining statement, and the column of its answer that describes each step.
    let (explain, detail_column) = match backend {
        sea_orm::DbBackend::Postgres => {
            // An empty table is cheapest to scan; ask whether the index can serve the query.
            txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.expect("set");
            ("EXPLAIN", "QUERY PLAN")
        }
        _ => ("EXPLAIN QUERY PLAN", "detail"),
    };
    let statement = Statement::from_sql_and_values(
        backend,
        format!("{explain} {}", query.sql),
        query.values.map(|values| values.0).unwrap_or_default(),
    );
    let rows = txn.query_all(statement).await.expect("the plan");
    let plan = rows
        .iter()
        .map(|row| row.try_get::<String>("", detail_column))
        .collect::<Result<Vec<_>, _>>()
        .expect("plan lines")
        .join("\n");
    drop(txn);
    database.close().await;
    plan
}

#[tokio::test]
async fn a_sign_ins_lookup_uses_the_indexes_on_sqlite() {
    let directory = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}?mode=rwc", directory.path().join("latchkey.db").display());
    uses_both_indexes(&plan_of_a_sign_ins_lookup(&url).await);
}

/// The identity by its key, the others by `lower(email)`: no scan of every identity.
fn uses_both_indexes(plan: &str) {
    for index in ["identities_issuer_subject_key", "identities_email_lower_idx"] {
        assert!(plan.contains(index), "{index} unused:\n{plan}");
    }
}

#[tokio::test]
async fn a_sign_ins_lookup_uses_the_indexes_on_postgres() {
    let Some(url) = fresh_postgres_database().await else {
        return skip_postgres("migrations::a_sign_ins_lookup_uses_the_indexes_on_postgres");
    };
    uses_both_indexes(&plan_of_a_sign_ins_lookup(&url).await);
}
