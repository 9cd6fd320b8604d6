use leptos::prelude::*;

use crate::pages::{PageFrame, PageTitle};

/// Fallback for unknown paths (answered with HTTP 404 on the server).
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <PageTitle text="Page not found · latchkey"/>
        <PageFrame>
            <section class="card card--center" aria-labelledby="not-found-title">
                <p class="eyebrow">"404"</p>
                <h1 id="not-found-title">"Page not found"</h1>
                <p class="muted">"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
                <p class="actions">
                    <a class="button" href="/">"Go to the home page"</a>
                </p>
            </section>
        </PageFrame>
    }
}
