use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

use crate::{
    api::{Identity, Me, UpdateDisplayName, current_user, error_message},
    components::{Avatar, SignOutButton},
    pages::{LoadError, Loading, PageFrame},
};

/// `/profile`: the signed-in person's account. Anyone else is sent to `/`.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_user());

    view! {
        <Title text="Your profile · latchkey"/>
        <PageFrame>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => view! { <Profile me/> }.into_any(),
                        Ok(None) => {
                            redirect_on_server("/");
                            view! { <Redirect path="/"/> }.into_any()
                        }
                        Err(e) => view! {
                            <LoadError message=error_message(&e) retry_href="/profile"/>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </PageFrame>
    }
}

/// A real `302 Found` for the page request, whatever its `Accept` header.
/// (`<Redirect/>` does the same in the browser, and in HTML-accepting requests.)
fn redirect_on_server(_path: &'static str) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FOUND);
        response.insert_header(
            http::header::LOCATION,
            http::HeaderValue::from_static(_path),
        );
    }
}

#[component]
fn Profile(me: Me) -> impl IntoView {
    let update = ServerAction::<UpdateDisplayName>::new();
    let query = use_query_map();

    // The name as stored: starts from the page's data, follows successful saves.
    let name = RwSignal::new(me.name.clone());
    Effect::new(move |_| {
        if let Some(Ok(saved)) = update.value().get() {
            name.set(saved);
        }
    });

    // Errors from this page's saves; without JavaScript the server sends them
    // back in `?error=` (see `update_display_name`).
    let error = move || match update.value().get() {
        Some(Err(e)) => Some(error_message(&e)),
        Some(Ok(_)) => None,
        None => query.read().get("error").filter(|m| !m.trim().is_empty()),
    };
    let saved = move || matches!(update.value().get(), Some(Ok(_)));
    let pending = update.pending();

    let email = me.email.clone();
    let other_identities: Vec<Identity> = me
        .identities
        .iter()
        .filter(|i| me.session_identity.as_ref() != Some(*i))
        .cloned()
        .collect();

    view! {
        <section class="card card--profile" aria-labelledby="profile-name">
            <header class="profile-header">
                <Avatar name=name picture=me.picture.clone() seed=me.id.clone()/>
                <div class="profile-header__text">
                    <h1 id="profile-name" class="profile-name">{move || name.get()}</h1>
                    {match email {
                        Some(email) => view! { <p class="profile-email">{email}</p> }.into_any(),
                        None => view! { <p class="profile-email muted">"No email address"</p> }.into_any(),
                    }}
                </div>
            </header>

            <section class="panel" aria-labelledby="session-title">
                <h2 id="session-title">"This session"</h2>
                {match me.session_identity.clone() {
                    Some(identity) => view! { <IdentityDetails identity/> }.into_any(),
                    None => view! { <p class="muted">"Signed in."</p> }.into_any(),
                }}
            </section>

            <section class="panel" aria-labelledby="edit-title">
                <h2 id="edit-title">"Your profile"</h2>
                <ActionForm action=update attr:class="form">
                    <div class="field">
                        <label for="display-name">"Display name"</label>
                        <div class="field__row">
                            <input
                                id="display-name"
                                name="display_name"
                                type="text"
                                autocomplete="nickname"
                                spellcheck="false"
                                value=me.name.clone()
                                prop:value=move || name.get()
                                aria-invalid=move || if error().is_some() { "true" } else { "false" }
                                aria-describedby="display-name-help display-name-message"
                            />
                            <button
                                type="submit"
                                class="button"
                                aria-busy=move || if pending.get() { "true" } else { "false" }
                            >
                                "Save"
                            </button>
                        </div>
                        <p id="display-name-help" class="field__help">
                            "How latchkey greets you. Other apps may show it too."
                        </p>
                        <div id="display-name-message" class="field__message">
                            {move || {
                                error()
                                    .map(|message| {
                                        view! { <p class="form-error" role="alert">{message}</p> }
                                    })
                            }}
                            {move || {
                                saved()
                                    .then(|| {
                                        view! { <p class="form-success" role="status">"Saved."</p> }
                                    })
                            }}
                        </div>
                    </div>
                </ActionForm>
            </section>

            {(!other_identities.is_empty())
                .then(|| {
                    view! {
                        <section class="panel" aria-labelledby="linked-title">
                            <h2 id="linked-title">"Also linked"</h2>
                            <ul class="identity-list">
                                {other_identities
                                    .into_iter()
                                    .map(|identity| view! { <li><IdentityDetails identity/></li> })
                                    .collect_view()}
                            </ul>
                        </section>
                    }
                })}

            <footer class="card__footer">
                <a class="button button--secondary" href="/">"Home"</a>
                <SignOutButton/>
            </footer>
        </section>
    }
}

/// Provider, email (with its verification) and subject of one identity.
#[component]
fn IdentityDetails(identity: Identity) -> impl IntoView {
    let email = match identity.email {
        Some(email) => {
            let (badge_class, badge) = if identity.email_verified {
                ("badge badge--verified", "verified")
            } else {
                ("badge badge--unverified", "not verified")
            };
            view! {
                <span class="identity__email">{email}</span>
                " "
                <span class=badge_class>{badge}</span>
            }
            .into_any()
        }
        None => view! { <span class="muted">"Not shared"</span> }.into_any(),
    };

    view! {
        <dl class="identity">
            <div class="identity__row">
                <dt>"Provider"</dt>
                <dd class="identity__provider">{identity.provider_name}</dd>
            </div>
            <div class="identity__row">
                <dt>"Email"</dt>
                <dd>{email}</dd>
            </div>
            <div class="identity__row">
                <dt>"Subject"</dt>
                <dd>
                    <code class="subject" title=identity.issuer>{identity.subject}</code>
                </dd>
            </div>
        </dl>
    }
}
