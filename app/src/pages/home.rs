use leptos::prelude::*;

use crate::{
    api::{Me, ProviderSummary, current_user, error_message, routes, routes::SignedOut, sign_in_providers},
    components::{Avatar, ProviderList, SignOutButton, brand::Logo},
    pages::{Loading, PageAddress, PageFrame, PageTitle},
};

/// `/`: what latchkey is, and how to sign in.
#[component]
pub fn HomePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_user());
    let providers = Resource::new(|| (), |_| sign_in_providers());
    let address = PageAddress::current();

    view! {
        <PageTitle text="latchkey: sign in with the accounts you already have"/>
        <PageFrame>
            <section class="card card--hero" aria-labelledby="home-title">
                <div class="hero">
                    <Logo size=56/>
                    <h1 id="home-title" class="hero__title">"latchkey"</h1>
                    <p class="hero__pitch">"Sign in with the accounts you already have."</p>
                </div>
                <Suspense fallback=Loading>
                    {Suspend::new(async move {
                        let me = me.await;
                        let providers = providers.await;
                        match (me, providers) {
                            (Ok(Some(me)), _) => view! { <SignedIn me/> }.into_any(),
                            (Ok(None), Ok(providers)) => view! {
                                {sign_out_note(&address, &providers)
                                    .map(|note| view! { <p class="notice" role="status">{note}</p> })}
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

/// What a sign-out that asked the provider too left in the query (see
/// [`routes::signed_out`]), in words; `None` for any other visit.
fn sign_out_note(address: &PageAddress, providers: &[ProviderSummary]) -> Option<String> {
    let how = SignedOut::from_query(&address.query_value("signed_out")?)?;
    let provider_id = address.query_value("provider")?;
    let name = &providers.iter().find(|provider| provider.id.as_str() == provider_id)?.name;
    Some(match how {
        SignedOut::AtProviderToo => format!("You are signed out of latchkey and of {name}."),
        SignedOut::ProviderCannot => format!(
            "You are signed out of latchkey. {name} does not offer signing out from here, so you may still be signed in there."
        ),
        SignedOut::ProviderUnreachable => format!(
            "You are signed out of latchkey. {name} could not be reached to sign you out there, so you may still be signed in there."
        ),
    })
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
            <SignOutButton class="button button--link" provider=me.provider_sign_out.clone()/>
        </div>
    }
}
