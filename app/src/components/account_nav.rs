use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::routes;

/// The signed-in person's pages. `<A>` marks the current one with
/// `aria-current="page"` (on the server too), and follows navigation.
#[component]
pub fn AccountNav() -> impl IntoView {
    view! {
        <nav class="account-nav" aria-label="Your account">
            <ul class="account-nav__list">
                <li><A href=routes::PROFILE exact=true>"Profile"</A></li>
                <li><A href=routes::ACCOUNTS exact=true>"Linked accounts"</A></li>
                <li><A href=routes::SESSIONS exact=true>"Sessions"</A></li>
                <li><A href=routes::ACTIVITY exact=true>"Activity"</A></li>
            </ul>
        </nav>
    }
    .into_any()
}
