//! Hot reads whose SQL text is rendered once per backend. sea-query renders a statement's text
//! again on every call, and on PostgreSQL that rendering cost more instructions than sending
//! the query and reading its answer (`bench/instructions.sh`: 44 % of an `/api/me`).

use std::sync::OnceLock;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryTrait, SelectorTrait, Statement, Value};

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

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Select};

    use super::*;
    use crate::storage::entities::identity;

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
}
