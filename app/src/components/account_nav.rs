use leptos::prelude::*;

use crate::api::routes;

/// The signed-in person's pages, the current one (`here`, a path) marked with
/// `aria-current="page"`. Plain links: in islands mode the browser has no router to follow
/// them, and the server renders each page once, so router links (`<A>`, a memo and effects
/// each) would only cost.
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
