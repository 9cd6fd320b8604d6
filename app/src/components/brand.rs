use leptos::prelude::*;

/// The latchkey mark: a key in a rounded square.
#[component]
pub fn Logo(#[prop(default = 40)] size: u32) -> impl IntoView {
    view! {
        <svg
            class="logo"
            width=size
            height=size
            viewBox="0 0 48 48"
            aria-hidden="true"
            focusable="false"
            inner_html=LOGO_SHAPES
        ></svg>
    }
}

/// The mark's shapes: one fixed string, rather than elements rendered one by one on every page.
const LOGO_SHAPES: &str = concat!(
    r#"<rect width="48" height="48" rx="12" fill="currentColor"></rect>"#,
    r#"<circle cx="18" cy="24" r="7" fill="none" stroke="var(--logo-ink, #fff)" stroke-width="4"></circle>"#,
    r#"<path d="M25 24h15m-5 0v6m-5-6v4" fill="none" stroke="var(--logo-ink, #fff)" stroke-width="4" "#,
    r#"stroke-linecap="round" stroke-linejoin="round"></path>"#,
);

/// The product's name with its mark, linking home.
#[component]
pub fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href="/">
            <Logo size=28/>
            <span class="brand__name">"latchkey"</span>
        </a>
    }
}
