use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{Me, current_user, error_message, routes, sign_in_providers},
    components::{Avatar, ProviderList, SignOutButton, brand::Logo},
    pages::{Loading, PageFrame},
};

/// `/`: what latchkey is, and how to sign in.
#[component]
pub fn HomePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_user());
    let providers = Resource::new(|| (), |_| sign_in_providers());

    view! {
        <Title text="latchkey: sign in with the accounts you already have"/>
        <PageFrame>
            <section class="card card--hero" aria-labelledby="home-title">
                <div class="hero">
                    <Logo size=56/>
                    <h1 id="home-title" class="hero__title">"latchkey"</h1>
                    <p class="hero__pitch">"Sign in with the accounts you already have."</p>
                </div>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        let me = me.await;
                        let providers = providers.await;
                        match (me, providers) {
                            (Ok(Some(me)), _) => view! { <SignedIn me/> }.into_any(),
                            (Ok(None), Ok(providers)) => view! {
                                <div class="signin">
                                    <ProviderList providers/>
                                    <p class="fineprint">
                                        "We only ask your provider who you are. No new password to remember."
                                    </p>
                                </div>
                            }
                            .into_any(),
                            (Err(e), _) | (_, Err(e)) => view! {
                                <p class="form-error" role="alert">{error_message(&e)}</p>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </PageFrame>
    }
}

/// The front page for someone already signed in.
#[component]
fn SignedIn(me: Me) -> impl IntoView {
    let name = me.name.clone();
    let signed_in_as = format!("Signed in as {}", me.name);
    view! {
        <div class="signed-in">
            <div class="signed-in__who">
                <Avatar name=Signal::stored(name) picture=me.picture.clone() seed=me.id.to_string()/>
                <p class="signed-in__text">{signed_in_as}</p>
            </div>
            <p class="actions">
                <a class="button" href=routes::PROFILE>"Go to your profile"</a>
            </p>
            <SignOutButton class="button button--link"/>
        </div>
    }
}
