use leptos::prelude::*;

use crate::api::routes;

/// The signed-in person's pages, the current one (`here`, a path) marked with
/// `aria-current="page"`. Plain links: every page is rendered by the server (see `render`).
#[component]
pub fn AccountNav(here: &'static str) -> impl IntoView {
    let link = |href: &'static str, label: &'static str| {
        let current = (here == href).then_some("page");
        view! { <li><a href=href aria-current=current>{label}</a></li> }
    };
    view! {
        <nav class="account-nav" aria-label="Your account">
            <ul class="account-nav__list">
                {link(routes::PROFILE, "Profile")}
                {link(routes::ACCOUNTS, "Linked accounts")}
                {link(routes::SESSIONS, "Sessions")}
                {link(routes::ACTIVITY, "Activity")}
            </ul>
        </nav>
    }
}
