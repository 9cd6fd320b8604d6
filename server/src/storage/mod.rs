//! Storage: the database connection, sea-orm entities and migrations.

pub mod entities;
mod migrations;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

pub use migrations::Migrator;

/// Connects and brings the schema up to date. SQLite files are created on first run.
pub async fn connect(database_url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(database_url.to_string());
    options
        .max_connections(if database_url.starts_with("sqlite:") { 4 } else { 16 })
        .connect_timeout(std::time::Duration::from_secs(5))
        .acquire_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if database_url.starts_with("sqlite:") {
        use sea_orm::ConnectionTrait;
        // WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;")
            .await?;
    }
    Migrator::up(&db, None).await?;
    Ok(db)
}
