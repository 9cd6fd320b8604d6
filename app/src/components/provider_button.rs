use leptos::prelude::*;

use crate::api::{ProviderKind, ProviderSummary, routes};

/// "Sign in with …": a plain link to the server's login route.
///
/// `rel="external"`: signing in is a full-page navigation to the server (and on to the
/// provider).
#[component]
pub fn ProviderButtonLink(provider: ProviderSummary) -> impl IntoView {
    let class = format!("signin-button signin-button--{}", style_kind(provider.kind));
    let label = format!("Sign in with {}", provider.name);
    view! {
        <a href=routes::login(&provider.id, routes::PROFILE) rel="external" class=class>
            <ProviderIcon kind=provider.kind/>
            <span class="signin-button__label">{label}</span>
        </a>
    }
}

/// "Link …": a plain form post that starts linking another account of this
/// provider to the signed-in person (the server answers with a redirect to the
/// provider). Styled like the sign-in buttons.
#[component]
pub fn ProviderLinkForm(provider: ProviderSummary) -> impl IntoView {
    let class = format!("signin-button signin-button--{}", style_kind(provider.kind));
    let label = format!("Link {}", provider.name);
    view! {
        <form class="link-form" method="post" action=routes::link(&provider.id)>
            <button type="submit" class=class>
                <ProviderIcon kind=provider.kind/>
                <span class="signin-button__label">{label}</span>
            </button>
        </form>
    }
}

/// One button per provider, or a note when none is configured.
#[component]
pub fn ProviderList(providers: Vec<ProviderSummary>) -> impl IntoView {
    if providers.is_empty() {
        return view! {
            <p class="muted">"No sign-in providers are configured yet."</p>
        }
        .into_any();
    }
    view! {
        <ul class="providers" aria-label="Sign-in options">
            {providers
                .into_iter()
                .map(|provider| view! { <li><ProviderButtonLink provider/></li> })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// The style modifier of a provider's buttons.
fn style_kind(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Google => "google",
        ProviderKind::Microsoft => "microsoft",
        ProviderKind::GitHub => "github",
        ProviderKind::Oidc => "oidc",
    }
}

/// The provider's mark, drawn inline (decorative: the label says it all).
#[component]
fn ProviderIcon(kind: ProviderKind) -> impl IntoView {
    match kind {
        ProviderKind::Google => view! {
            <svg class="signin-button__icon" viewBox="0 0 48 48" aria-hidden="true" focusable="false">
                <path fill="#EA4335" d="M24 9.5c3.54 0 6.71 1.22 9.21 3.6l6.85-6.85C35.9 2.38 30.47 0 24 0 14.62 0 6.51 5.38 2.56 13.22l7.98 6.19C12.43 13.72 17.74 9.5 24 9.5z"></path>
                <path fill="#4285F4" d="M46.98 24.55c0-1.57-.15-3.09-.38-4.55H24v9.02h12.94c-.58 2.96-2.26 5.48-4.78 7.18l7.73 6c4.51-4.18 7.09-10.36 7.09-17.65z"></path>
                <path fill="#FBBC05" d="M10.53 28.59c-.48-1.45-.76-2.99-.76-4.59s.27-3.14.76-4.59l-7.98-6.19C.92 16.46 0 20.12 0 24c0 3.88.92 7.54 2.56 10.78l7.97-6.19z"></path>
                <path fill="#34A853" d="M24 48c6.48 0 11.93-2.13 15.89-5.81l-7.73-6c-2.15 1.45-4.92 2.3-8.16 2.3-6.26 0-11.57-4.22-13.47-9.91l-7.98 6.19C6.51 42.62 14.62 48 24 48z"></path>
            </svg>
        }
        .into_any(),
        ProviderKind::Microsoft => view! {
            <svg class="signin-button__icon" viewBox="0 0 21 21" aria-hidden="true" focusable="false">
                <rect x="1" y="1" width="9" height="9" fill="#f25022"></rect>
                <rect x="11" y="1" width="9" height="9" fill="#7fba00"></rect>
                <rect x="1" y="11" width="9" height="9" fill="#00a4ef"></rect>
                <rect x="11" y="11" width="9" height="9" fill="#ffb900"></rect>
            </svg>
        }
        .into_any(),
        ProviderKind::GitHub => view! {
            <svg class="signin-button__icon" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
                <path
                    fill="currentColor"
                    d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013 8.013 0 0016 8c0-4.42-3.58-8-8-8z"
                ></path>
            </svg>
        }
        .into_any(),
        ProviderKind::Oidc => view! {
            <svg class="signin-button__icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                <circle cx="8" cy="12" r="4" fill="none" stroke="currentColor" stroke-width="2.2"></circle>
                <path d="M12 12h9m-3 0v3.5m-3-3.5v2.5" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"></path>
            </svg>
        }
        .into_any(),
    }
}
