//! One module per route.

pub mod home;
pub mod not_found;
pub mod profile;

use leptos::prelude::*;

use crate::components::Brand;

/// The frame shared by every page: a slim header and the main column.
#[component]
pub fn PageFrame(children: Children) -> impl IntoView {
    view! {
        <header class="site-header">
            <Brand/>
        </header>
        <main class="page" id="main">
            {children()}
        </main>
    }
}

/// A card telling people something went wrong while loading a page.
#[component]
pub fn LoadError(message: String, #[prop(into)] retry_href: String) -> impl IntoView {
    view! {
        <section class="card card--error" role="alert">
            <h1>"Something went wrong"</h1>
            <p>{message}</p>
            <p class="actions">
                <a class="button" href=retry_href rel="external">"Try again"</a>
                " "
                <a class="button button--secondary" href="/">"Home"</a>
            </p>
        </section>
    }
}

/// Placeholder while a page's data loads after client-side navigation.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <section class="card card--loading" aria-busy="true">
            <p class="muted">"Loading…"</p>
        </section>
    }
}
