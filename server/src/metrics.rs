//! What latchkey counts, in one place: every metric's name and labels are here. The binary
//! exports them in Prometheus's text format on `LATCHKEY_METRICS_ADDR`; without it they are
//! recorded nowhere (the `metrics` crate's default) and cost next to nothing.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::storage::entities::session;
use crate::storage::{Database, Writer};

/// How often the gauges (pools, live sessions) are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// One sign-in that came back from a configured provider: `ok`, or why it was refused.
pub fn sign_in(provider: &str, outcome: &'static str) {
    metrics::counter!("latchkey_sign_ins_total", "provider" => provider.to_string(), "outcome" => outcome).increment(1);
}

/// One answered request, by route template and status class (`2xx`, `4xx`, …).
pub fn request(route: &str, status: u16, duration: Duration) {
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::histogram!("latchkey_http_request_duration_seconds", "route" => route.to_string(), "status" => class)
        .record(duration.as_secs_f64());
}

/// One call to a provider, by provider and endpoint (the URL's path).
pub fn provider_call(provider: &str, endpoint: &str, duration: Duration) {
    metrics::histogram!(
        "latchkey_provider_request_duration_seconds",
        "provider" => provider.to_string(),
        "endpoint" => endpoint.to_string()
    )
    .record(duration.as_secs_f64());
}

/// One request refused by a rate limit, by kind (`sign_in_start`, `callback`, `api`).
pub fn rate_limited(kind: &'static str) {
    metrics::counter!("latchkey_rate_limited_total", "kind" => kind).increment(1);
}

/// One back-channel logout token from a provider: `ok`, or why it was refused.
pub fn backchannel_logout(provider: &str, outcome: &'static str) {
    metrics::counter!("latchkey_backchannel_logouts_total", "provider" => provider.to_string(), "outcome" => outcome)
        .increment(1);
}

/// One request refused because too many were in flight (see `http::inbound`).
pub fn load_shed() {
    metrics::counter!("latchkey_load_shed_total").increment(1);
}

/// Samples the database pools and the number of live sessions, until the runtime stops.
pub fn spawn_sampler(db: Database) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            sample_pool("reads", pool_sizes(db.reads()), acquire_wait(db.reads())).await;
            match db.writes() {
                Writer::Pool(pool) => sample_pool("writes", pool_sizes(pool), acquire_wait(pool)).await,
                // SQLite's writer is one connection of latchkey's own, free or taken.
                Writer::Inline(writer) => {
                    let idle = if writer.is_free() { 1.0 } else { 0.0 };
                    sample_pool("writes", (1.0, idle), async {
                        let started = std::time::Instant::now();
                        writer.wait_for_turn().await;
                        Some(started.elapsed())
                    })
                    .await;
                }
            }
            let live =
                session::Entity::find().filter(session::Column::ExpiresAt.gt(Utc::now())).count(db.reads()).await;
            if let Ok(live) = live {
                metrics::gauge!("latchkey_active_sessions").set(live as f64);
            }
        }
    });
}

/// Sets the gauges of the pool called `name`: its `(open, idle)` connections, and how long a
/// request would wait for one now (`wait`, measured by taking one; `None` if none came).
async fn sample_pool(name: &'static str, (size, idle): (f64, f64), wait: impl Future<Output = Option<Duration>>) {
    metrics::gauge!("latchkey_db_pool_connections", "pool" => name, "state" => "open").set(size);
    metrics::gauge!("latchkey_db_pool_connections", "pool" => name, "state" => "idle").set(idle);
    if let Some(wait) = wait.await {
        metrics::gauge!("latchkey_db_pool_wait_seconds", "pool" => name).set(wait.as_secs_f64());
    }
}

/// The time to take a connection from `pool` and give it back; `None` if none came.
async fn acquire_wait(pool: &sea_orm::DatabaseConnection) -> Option<Duration> {
    use sea_orm::{ConnectionTrait, DbBackend};
    let started = std::time::Instant::now();
    let acquired = match pool.get_database_backend() {
        DbBackend::Sqlite => pool.get_sqlite_connection_pool().acquire().await.map(drop),
        DbBackend::Postgres => pool.get_postgres_connection_pool().acquire().await.map(drop),
        DbBackend::MySql => return None,
    };
    acquired.ok().map(|()| started.elapsed())
}

fn pool_sizes(pool: &sea_orm::DatabaseConnection) -> (f64, f64) {
    use sea_orm::{ConnectionTrait, DbBackend};
    // The backend is asked first: each getter panics on the other kind of pool.
    match pool.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = pool.get_sqlite_connection_pool();
            (f64::from(pool.size()), pool.num_idle() as f64)
        }
        DbBackend::Postgres => {
            let pool = pool.get_postgres_connection_pool();
            (f64::from(pool.size()), pool.num_idle() as f64)
        }
        DbBackend::MySql => (0.0, 0.0),
    }
}
