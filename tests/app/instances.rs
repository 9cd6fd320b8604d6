//! Several instances on one database: no instance keeps what another has ended.

use reqwest::StatusCode;

use crate::on_every_backend;
use crate::support::{Person, TestApp};

on_every_backend!(a_session_signed_out_on_one_instance_is_refused_by_another_at_its_next_request);

async fn a_session_signed_out_on_one_instance_is_refused_by_another_at_its_next_request(app: TestApp) {
    let browser = app.browser();
    browser.sign_in_as(&Person::ada()).await;
    let token = browser.cookie("latchkey_session").expect("signed in");
    let other = app.second_instance().await;
    let seen_by_other = other.sessions().authenticate(&token).await.expect("query");
    assert!(seen_by_other.is_some(), "the other instance accepts the live session");

    assert_eq!(browser.sign_out().await.status(), StatusCode::SEE_OTHER);

    let after = other.sessions().authenticate(&token).await.expect("query");
    assert!(after.is_none(), "signed out on one instance, refused on the other at once");
}
