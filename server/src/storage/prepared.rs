//! Hot statements whose SQL text is rendered once per backend, and writes sent together
//! ([`Batch`]). sea-query renders a statement's text again on every call, and that rendering
//! cost more instructions than sending the query and reading its answer
//! (`bench/instructions.sh`: 44 % of a PostgreSQL `/api/me`; the inserts were a fifth of a
//! sign-in).

use std::sync::OnceLock;

use sea_orm::sea_query::{OnConflict, Query, ReturningClause};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable, QueryTrait, SelectorTrait,
    Statement, TryIntoModel, Value,
};

/// The text of one query, per backend, kept after its first rendering.
#[derive(Default)]
pub struct SqlText {
    sqlite: OnceLock<Option<String>>,
    postgres: OnceLock<Option<String>>,
}

impl SqlText {
    pub const fn new() -> Self {
        SqlText { sqlite: OnceLock::new(), postgres: OnceLock::new() }
    }

    /// The statement binding `values`. `query` is built and rendered the first time; its text is
    /// kept only if its values are exactly `values` (every bound value, in order), so a wrong
    /// list costs speed, never correctness. Only for queries whose text does not vary with the
    /// values (no `IN` list of varying length, no `Option` compared with `eq`).
    pub fn statement<Q: QueryTrait>(
        &self,
        backend: DbBackend,
        values: Vec<Value>,
        query: impl FnOnce() -> Q,
    ) -> Statement {
        let slot = if backend == DbBackend::Postgres { &self.postgres } else { &self.sqlite };
        if let Some(Some(sql)) = slot.get() {
            return Statement::from_sql_and_values(backend, sql.clone(), values);
        }
        let rendered = query().build(backend);
        let reusable = rendered.values.as_ref().is_some_and(|rendered| rendered.0 == values);
        let _ = slot.set(reusable.then(|| rendered.sql.clone()));
        rendered
    }
}

/// The first row `statement` answers, read by the selector `S` (one model, two joined, …).
pub async fn one<S: SelectorTrait>(db: &impl ConnectionTrait, statement: Statement) -> Result<Option<S::Item>, DbErr> {
    db.query_one(statement).await?.map(S::from_raw_query_result).transpose()
}

/// Every row `statement` answers, read by the selector `S`.
pub async fn all<S: SelectorTrait>(db: &impl ConnectionTrait, statement: Statement) -> Result<Vec<S::Item>, DbErr> {
    db.query_all(statement).await?.into_iter().map(S::from_raw_query_result).collect()
}

type ModelOf<A> = <<A as ActiveModelTrait>::Entity as EntityTrait>::Model;

/// Writes whose answers nobody reads, sent together. PostgreSQL gets them as one statement,
/// one round trip (`one_postgres_text`), whose parts see one snapshot and run in no set order:
/// a batch must not write one row twice. SQLite's writer runs on the calling thread, where a
/// statement costs no trip: they run one by one, in order. Outside a transaction each
/// statement commits on its own on SQLite; on PostgreSQL the one statement commits them
/// together.
pub struct Batch {
    backend: DbBackend,
    statements: Vec<Statement>,
}

impl Batch {
    pub fn new(db: &impl ConnectionTrait) -> Self {
        Batch { backend: db.get_database_backend(), statements: Vec::new() }
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Adds the INSERT of `row` (text from `text`) and answers the row it stores. Every column
    /// must be set (which columns are set shapes the INSERT): nothing is read back, the row
    /// already holds every value (timestamps as given; PostgreSQL keeps them to the
    /// microsecond).
    pub fn insert<A>(&mut self, text: &SqlText, row: A) -> Result<ModelOf<A>, DbErr>
    where
        A: ActiveModelTrait + TryIntoModel<ModelOf<A>>,
    {
        let values = every_value(&row).ok_or_else(|| DbErr::Custom("a batched insert must set every column".into()))?;
        self.push(text.statement(self.backend, values, || A::Entity::insert(row.clone())));
        row.try_into_model()
    }

    /// Adds the INSERT of `row` that on `conflict` does what it says (an upsert).
    pub fn upsert<A: ActiveModelTrait>(&mut self, text: &SqlText, row: A, conflict: impl FnOnce() -> OnConflict) {
        let build = || A::Entity::insert(row.clone()).on_conflict(conflict());
        let statement = match every_value(&row) {
            Some(values) => text.statement(self.backend, values, build),
            None => build().build(self.backend),
        };
        self.push(statement);
    }

    /// Runs the statements (in order on SQLite, as one on PostgreSQL); the first failure stops
    /// them.
    pub async fn run(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let Batch { backend, statements } = self;
        let together = match backend {
            DbBackend::Postgres if statements.len() > 1 => one_postgres_text(&statements),
            _ => None,
        };
        match together {
            Some(sql) => {
                // The values in order: each statement's after those before it.
                let values =
                    statements.into_iter().flat_map(|statement| statement.values.map(|v| v.0).unwrap_or_default());
                db.execute(Statement::from_sql_and_values(backend, sql, values.collect::<Vec<_>>())).await?;
            }
            None => {
                for statement in statements {
                    db.execute(statement).await?;
                }
            }
        }
        Ok(())
    }
}

/// PostgreSQL's writes as one statement, one round trip: all but the last in its `WITH`, each
/// with its `$n` numbered after the values of those before it. They see one snapshot and
/// foreign keys are checked at the statement's end, so the batch must not touch a row twice
/// (a sign-in's writes do not). `None` (run them one by one) for a text this cannot renumber
/// with certainty.
fn one_postgres_text(statements: &[Statement]) -> Option<String> {
    let (mut sql, mut values_before) = (String::from("WITH "), 0);
    for (index, statement) in statements.iter().enumerate() {
        let text = renumbered(&statement.sql, values_before)?;
        if index + 1 < statements.len() {
            sql.push_str(&format!("w{index} AS ({text}), "));
        } else {
            sql.truncate(sql.len() - 2);
            sql.push(' ');
            sql.push_str(&text);
        }
        values_before += statement.values.as_ref().map_or(0, |values| values.0.len());
    }
    Some(sql)
}

/// `sql` with each parameter `$n` made `$(n + offset)`; quoted names and strings are copied as
/// they are. `None` for a backslash (an escape string) or a `$` that is no parameter (dollar
/// quoting), which sea-query does not write for statements whose values are all parameters.
fn renumbered(sql: &str, offset: usize) -> Option<String> {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote = None;
    let mut chars = sql.char_indices();
    while let Some((at, c)) = chars.next() {
        match (quote, c) {
            (_, '\\') => return None,
            (Some(open), c) if c == open => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') => {
                let digits = sql[at + 1..].find(|c: char| !c.is_ascii_digit()).unwrap_or(sql.len() - at - 1);
                let n: usize = sql[at + 1..at + 1 + digits].parse().ok()?;
                out.push('$');
                out.push_str(&(n + offset).to_string());
                for _ in 0..digits {
                    chars.next();
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Some(out)
}

/// A `RETURNING` of every column of `E`, read back as sea-orm reads a model.
pub fn every_column<E: EntityTrait>(backend: DbBackend) -> ReturningClause {
    Query::returning().exprs(E::Column::iter().map(|column| column.select_enum_as(column.into_returning_expr(backend))))
}

/// `row`'s values in column order, the order sea-orm's INSERT binds them; `None` when a column
/// is not set.
fn every_value<A: ActiveModelTrait>(row: &A) -> Option<Vec<Value>> {
    <A::Entity as EntityTrait>::Column::iter().map(|column| row.get(column).into_value()).collect()
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveValue::{NotSet, Set};
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Select};

    use super::*;
    use crate::storage::entities::{identity, user};
    use crate::storage::tests::scratch_database;

    fn of_user(user_id: &str) -> Select<identity::Entity> {
        identity::Entity::find().filter(identity::Column::UserId.eq(user_id))
    }

    #[test]
    fn the_text_is_rendered_once_and_later_calls_bind_their_own_values() {
        let text = SqlText::new();
        let first = text.statement(DbBackend::Postgres, vec!["a".into()], || of_user("a"));
        let second = text.statement(DbBackend::Postgres, vec!["b".into()], || -> Select<identity::Entity> {
            panic!("rendered again")
        });

        assert_eq!(second.sql, first.sql);
        assert_eq!(second.values.map(|v| v.0), Some(vec!["b".into()]));
    }

    #[test]
    fn a_text_whose_values_were_not_all_named_is_never_reused() {
        let text = SqlText::new();
        // `limit` binds a value of its own, which the caller did not name.
        text.statement(DbBackend::Postgres, vec!["a".into()], || of_user("a").limit(1));

        let again = text.statement(DbBackend::Postgres, vec!["b".into()], || of_user("b").limit(1));

        assert_eq!(again.values.map(|v| v.0), Some(vec!["b".into(), 1u64.into()]), "rendered in full again");
    }

    fn new_user(id: &str, name: &str) -> user::ActiveModel {
        let now = chrono::Utc::now();
        user::ActiveModel {
            id: Set(id.to_string()),
            display_name: Set(name.to_string()),
            email: Set(None),
            picture: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            disabled_at: Set(None),
        }
    }

    /// Runs `row`'s insert alone, as its own batch.
    async fn insert_alone(db: &impl ConnectionTrait, text: &SqlText, row: user::ActiveModel) -> user::Model {
        let mut batch = Batch::new(db);
        let model = batch.insert(text, row).expect("every column set");
        batch.run(db).await.expect("inserts");
        model
    }

    #[tokio::test]
    async fn inserts_through_one_text_store_each_rows_own_values() {
        let (database, dir) = scratch_database().await;
        let text = SqlText::new();

        let ada = insert_alone(database.writes(), &text, new_user("u-ada", "Ada")).await;
        let grace = insert_alone(database.writes(), &text, new_user("u-grace", "Grace")).await;

        assert!(matches!(text.sqlite.get(), Some(Some(_))), "the text was kept");
        let stored = user::Entity::find().order_by_asc(user::Column::Id).all(database.reads()).await.expect("reads");
        assert_eq!(
            stored.iter().map(|u| (u.id.as_str(), u.display_name.as_str())).collect::<Vec<_>>(),
            [("u-ada", "Ada"), ("u-grace", "Grace")]
        );
        assert_eq!((ada.display_name.as_str(), grace.display_name.as_str()), ("Ada", "Grace"));
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_batch_runs_every_statement_in_order_each_with_its_own_values() {
        let (database, dir) = scratch_database().await;
        let (ada, grace) = (SqlText::new(), SqlText::new());
        let rename = || OnConflict::column(user::Column::Id).update_column(user::Column::DisplayName).to_owned();
        let mut batch = Batch::new(database.writes());

        batch.insert(&ada, new_user("u-ada", "Ada")).expect("every column set");
        batch.insert(&grace, new_user("u-grace", "Grace")).expect("every column set");
        batch.upsert(&SqlText::new(), new_user("u-ada", "Ada Lovelace"), rename);
        batch.run(database.writes()).await.expect("runs");

        let stored = user::Entity::find().order_by_asc(user::Column::Id).all(database.reads()).await.expect("reads");
        assert_eq!(
            stored.iter().map(|u| (u.id.as_str(), u.display_name.as_str())).collect::<Vec<_>>(),
            [("u-ada", "Ada Lovelace"), ("u-grace", "Grace")]
        );
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_batch_stops_at_its_first_failure_and_its_transaction_keeps_nothing() {
        let (database, dir) = scratch_database().await;
        let text = SqlText::new();
        let txn = database.begin().await.expect("begins");
        let mut batch = Batch::new(&txn);
        batch.insert(&text, new_user("u-ada", "Ada")).expect("every column set");
        batch.insert(&text, new_user("u-ada", "Ada again")).expect("every column set");
        batch.insert(&text, new_user("u-grace", "Grace")).expect("every column set");

        let failed = batch.run(&txn).await;
        drop(txn);

        assert!(failed.is_err_and(|e| crate::storage::is_unique_violation(&e)));
        assert!(user::Entity::find().all(database.reads()).await.expect("reads").is_empty(), "nothing kept");
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn postgres_runs_a_batch_as_one_statement_with_its_parameters_numbered_in_turn() {
        let statement =
            |sql: &str, values: Vec<Value>| Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        let batch = [
            statement("INSERT INTO a VALUES ($1, $2)", vec![1.into(), 2.into()]),
            statement("DELETE FROM b WHERE x = $1", vec![3.into()]),
            statement("INSERT INTO c VALUES ($1, $2, $10)", vec![4.into(), 5.into(), 6.into()]),
        ];

        let sql = one_postgres_text(&batch).expect("one statement");

        assert_eq!(
            sql,
            "WITH w0 AS (INSERT INTO a VALUES ($1, $2)), w1 AS (DELETE FROM b WHERE x = $3) \
             INSERT INTO c VALUES ($4, $5, $13)"
        );
    }

    #[test]
    fn quoted_names_and_strings_keep_their_dollars_and_dollar_quoting_is_not_renumbered() {
        assert_eq!(
            renumbered(r#"INSERT INTO "a$1" VALUES ($1, 'it''s $2', $2)"#, 5).as_deref(),
            Some(r#"INSERT INTO "a$1" VALUES ($6, 'it''s $2', $7)"#)
        );
        assert_eq!(renumbered("SELECT $$text$$", 1), None);
        assert_eq!(renumbered(r"SELECT E'\x', $1", 1), None);
    }

    #[test]
    fn a_batched_insert_refuses_a_row_with_a_column_not_set() {
        let mut batch = Batch { backend: DbBackend::Sqlite, statements: Vec::new() };

        let refused = batch.insert(&SqlText::new(), user::ActiveModel { disabled_at: NotSet, ..new_user("u", "U") });

        assert!(refused.is_err());
        assert!(batch.statements.is_empty(), "nothing added");
    }

    #[tokio::test]
    async fn an_upsert_inserts_then_does_what_its_conflict_clause_says() {
        let (database, dir) = scratch_database().await;
        let text = SqlText::new();
        let rename = || OnConflict::column(user::Column::Id).update_column(user::Column::DisplayName).to_owned();

        for name in ["Ada", "Ada Lovelace"] {
            let mut batch = Batch::new(database.writes());
            batch.upsert(&text, new_user("u-ada", name), rename);
            batch.run(database.writes()).await.expect("runs");
        }

        let stored = user::Entity::find().all(database.reads()).await.expect("reads");
        assert_eq!(stored.iter().map(|u| u.display_name.as_str()).collect::<Vec<_>>(), ["Ada Lovelace"]);
        database.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
