//! The background sweeper deletes what can no longer be used, and nothing else.

use chrono::{TimeDelta, Utc};
use latchkey::latchkey_server::storage::entities::{activity_event, pending_link, pending_login, session};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::on_every_backend;
use crate::support::{Person, TestApp};

on_every_backend!(the_sweeper_deletes_expired_rows_and_old_activity_and_keeps_the_rest);

async fn the_sweeper_deletes_expired_rows_and_old_activity_and_keeps_the_rest(app: TestApp) {
    let ada = app.browser();
    ada.sign_in_as(&Person::ada()).await;
    let grace = app.browser();
    grace.sign_in_as(&Person::grace()).await;
    let grace_id = app.me(&grace).await.id.to_string();
    let ended = Utc::now() - TimeDelta::minutes(1);
    session::Entity::update_many()
        .col_expr(session::Column::ExpiresAt, Expr::value(ended))
        .filter(session::Column::UserId.eq(grace_id.as_str()))
        .exec(&app.db)
        .await
        .expect("grace's session has ended");
    ada.start_sign_in(None).await;
    grace.start_sign_in(None).await;
    ada.start_sign_in(None).await;
    let mut pending = pending_login::Entity::find().all(&app.db).await.expect("query");
    pending.sort_by_key(|row| row.created_at);
    let older: Vec<String> = pending[..2].iter().map(|row| row.state_hash.clone()).collect();
    pending_login::Entity::update_many()
        .col_expr(pending_login::Column::ExpiresAt, Expr::value(ended))
        .filter(pending_login::Column::StateHash.is_in(older))
        .exec(&app.db)
        .await
        .expect("the two older sign-ins expire");
    for (token, expires_at) in [("expired", ended), ("live", Utc::now() + TimeDelta::minutes(5))] {
        pending_link::ActiveModel {
            token_hash: Set(token.to_string()),
            browser_hash: Set(token.to_string()),
            existing_user_id: Set(grace_id.clone()),
            provider_id: Set("dev2".into()),
            issuer: Set("https://issuer.example.test".into()),
            subject: Set(token.to_string()),
            name: Set(None),
            email: Set(None),
            email_verified: Set(false),
            picture: Set(None),
            created_at: Set(ended),
            expires_at: Set(expires_at),
        }
        .insert(&app.db)
        .await
        .expect("a pending link");
    }
    let old = Utc::now() - TimeDelta::days(366);
    let events = activity_event::Entity::find().count(&app.db).await.expect("count");
    activity_event::Entity::update_many()
        .col_expr(activity_event::Column::CreatedAt, Expr::value(old))
        .filter(activity_event::Column::UserId.eq(grace_id.as_str()))
        .exec(&app.db)
        .await
        .expect("grace's activity is over a year old");
    let graces_events =
        activity_event::Entity::find().filter(activity_event::Column::CreatedAt.eq(old)).count(&app.db).await;
    let graces_events = graces_events.expect("count");

    let swept = app.latchkey.sweeper().sweep().await.expect("the sweep runs");

    assert_eq!((swept.sessions, swept.pending_logins, swept.pending_links), (1, 2, 1));
    assert_eq!(swept.activity_events, graces_events);
    assert!(graces_events > 0);
    assert_eq!(app.sessions().await, 1, "ada's live session stays");
    assert_eq!(ada.me().await.0, StatusCode::OK);
    assert_eq!(app.pending_logins().await, 1, "the live sign-in stays");
    assert_eq!(pending_link::Entity::find().count(&app.db).await.expect("count"), 1);
    let left = activity_event::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(left, events - graces_events, "a year of activity is kept by default");
}
