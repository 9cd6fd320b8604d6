//! Pages rendered into whole HTML documents without a router: the signed-in person's pages
//! (`routes::ACCOUNT_PAGES`), which are most of what a signed-in browser asks for.
//!
//! A page is the component for its path; axum routes to it. The page renders into the body, and
//! the head is written after it, with the title the page named (`PageTitle`) and the response's
//! nonce. Through leptos_axum's router the same page cost a fifth more: the router parses the URL
//! twice and keeps the location in signals, and leptos_meta looks for where the head ends in the
//! finished page to put the title there.

use std::sync::Arc;

use futures::StreamExt;
use hydration_context::{SharedContext, SsrSharedContext};
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos::reactive::owner::Sandboxed;
use leptos_axum::ResponseOptions;

use crate::api::routes;
use crate::pages::{
    AccountLayout, DocumentTitle, accounts::AccountsPage, activity::SecurityActivityPage, profile::ProfilePage,
    sessions::SessionsPage,
};

/// What renders one page.
pub type Page = fn() -> AnyView;

/// The signed-in person's pages, by path, each in the account layout.
pub const ACCOUNT_PAGES: [(&str, Page); 4] = [
    (routes::PROFILE, || in_account_layout(ProfilePage)),
    (routes::ACCOUNTS, || in_account_layout(AccountsPage)),
    (routes::SESSIONS, || in_account_layout(SessionsPage)),
    (routes::ACTIVITY, || in_account_layout(SecurityActivityPage)),
];

fn in_account_layout<Page: IntoView + 'static>(page: fn() -> Page) -> AnyView {
    view! { <AccountLayout>{page()}</AccountLayout> }.into_any()
}

/// A rendered page: the document, and what the page asked of the response (its status, headers).
pub struct RenderedPage {
    pub html: String,
    pub response: ResponseOptions,
}

/// Renders `page` for the request `parts` into a whole document, once everything it waits for
/// has resolved. `contexts` provides what the server gives every render (the core, the site's
/// files, the nonce); the request's parts and the response's options are provided here, as
/// leptos_axum provides them to its renders and server functions.
pub async fn render_page<View: IntoView + 'static>(
    options: &LeptosOptions,
    parts: http::request::Parts,
    contexts: impl FnOnce(),
    page: impl FnOnce() -> View,
) -> RenderedPage {
    let shared: Arc<dyn SharedContext + Send + Sync> = Arc::new(SsrSharedContext::new());
    // Only islands hydrate: nothing outside them is serialized for the browser.
    shared.set_is_hydrating(false);
    let owner = Owner::new_root(Some(shared));
    let response = ResponseOptions::default();
    let title = DocumentTitle::default();
    let body = owner.with(|| {
        provide_context(parts);
        provide_context(response.clone());
        provide_context(title.clone());
        contexts();
        // Polled with the page's owner current, as what it waits for expects.
        Sandboxed::new(page().into_view().to_html_stream_in_order().collect::<String>())
    });
    let body = body.await;
    let html = owner.with(|| document(options, title.take(), &body));
    owner.unset_with_forced_cleanup();
    RenderedPage { html, response }
}

/// The document around a rendered body: the head (see `DocumentHead`) with the page's title.
fn document(options: &LeptosOptions, title: Option<String>, body: &str) -> String {
    let head = crate::document_head(&crate::site_files(options));
    let auto_reload =
        if crate::watching() { view! { <AutoReload options=options.clone()/> }.to_html() } else { String::new() };
    let title = html_escape::encode_text(title.as_deref().unwrap_or("latchkey"));
    format!(
        r#"<!DOCTYPE html><html lang="en"><head>{auto_reload}{head}<title>{title}</title></head><body>{body}</body></html>"#
    )
}
