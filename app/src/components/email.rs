use leptos::prelude::*;

/// An identity's email with whether the provider verified it.
#[component]
pub fn EmailWithBadge(email: String, verified: bool) -> impl IntoView {
    let (badge_class, badge) =
        if verified { ("badge badge--verified", "verified") } else { ("badge badge--unverified", "not verified") };
    view! {
        <span class="identity__email">{email}</span>
        " "
        <span class=badge_class>{badge}</span>
    }
}
