//! `/admin/users` and `/admin/users/{id}`: admins find accounts and act on them. Anyone else
//! (signed out, or not an admin) gets the 404 page, as for an address that does not exist.

use latchkey_types::UserId;
use leptos::prelude::*;

use crate::{
    api::{
        AdminDisableUser, AdminEnableUser, AdminEndSessions, AdminUserDetail, AdminUserPage, AdminUserSummary,
        admin_user, admin_users, error_message, routes,
    },
    components::{FormAction, FormContext, FormStatus, PostForm, PostedOutcome, Timestamp, form_outcome},
    format::browser_summary,
    pages::{
        LoadError, Loading, PageAddress, PageFrame, PageTitle, activity::ActivityTable, activity::zero_based_page,
        not_found::NotFound,
    },
};

/// `/admin/users?q=…&page=N`: the accounts matching a search (name, email or provider
/// subject), oldest first, a page at a time.
#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let address = PageAddress::current();
    let q = address.query_value("q").unwrap_or_default();
    let page = zero_based_page(address.query_value("page").as_deref());

    view! {
        <Suspense fallback=Loading>
            {Suspend::new(async move {
                admin_view(admin_users(q.clone(), page).await, |found| view! { <UserList found q/> }.into_any())
            })}
        </Suspense>
    }
    .into_any()
}

/// An admin page's answer as shown: the page, the 404 page (not an admin, or no such
/// account), or why it could not load.
fn admin_view<T>(answer: Result<Option<T>, ServerFnError>, page: impl FnOnce(T) -> AnyView) -> AnyView {
    match answer {
        Ok(Some(found)) => page(found),
        Ok(None) => view! { <NotFound/> }.into_any(),
        Err(e) => view! {
            <PageFrame>
                <LoadError message=error_message(&e) retry_href=routes::ADMIN_USERS/>
            </PageFrame>
        }
        .into_any(),
    }
}

#[component]
fn UserList(found: AdminUserPage, q: String) -> impl IntoView {
    let current = found.page + 1;
    let pages = found.pages;
    let newer = (current > 1).then(|| routes::admin_users(&q, (current - 1).min(pages.max(1)) - 1));
    let older = (current < pages).then(|| routes::admin_users(&q, current));
    let body = if found.users.is_empty() {
        view! { <p class="muted empty">"No account matches."</p> }.into_any()
    } else {
        view! {
            <ul class="admin-users">
                {found.users.into_iter().map(|user| view! { <li><UserSummary user/></li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <PageTitle text="Accounts · admin · latchkey"/>
        <PageFrame>
            <section class="card card--wide" aria-labelledby="admin-users-title">
                <h1 id="admin-users-title">"Accounts"</h1>
                <form class="admin-search" method="get" action=routes::ADMIN_USERS role="search">
                    <label for="admin-search-q">"Name, email or provider subject"</label>
                    <input id="admin-search-q" type="search" name="q" value=q/>
                    <button type="submit" class="button">"Search"</button>
                </form>
                {body}
                <nav class="pager" aria-label="Account pages">
                    {newer.map(|href| view! { <a class="button button--secondary" href=href rel="prev">"Previous"</a> })}
                    {(pages > 1).then(|| view! { <span class="pager__position">{format!("Page {current} of {pages}")}</span> })}
                    {older.map(|href| view! { <a class="button button--secondary" href=href rel="next">"Next"</a> })}
                </nav>
            </section>
        </PageFrame>
    }
}

/// One account in the list: a link to its page, and what tells it apart.
#[component]
fn UserSummary(user: AdminUserSummary) -> impl IntoView {
    let href = routes::admin_user(&user.id);
    let providers = if user.providers.is_empty() { "no identities".to_string() } else { user.providers.join(", ") };
    view! {
        <a href=href class="admin-users__name">{user.name}</a>
        " "
        {user.disabled_at.map(|_| view! { <span class="badge badge--warning">"Disabled"</span> })}
        <ul class="facts">
            <li>{user.email.unwrap_or_else(|| "no primary email".to_string())}</li>
            <li>{providers}</li>
            <li><Timestamp label="Created " at=user.created_at/></li>
        </ul>
    }
}

/// `/admin/users/{id}`: one account's identities, sessions and activity, and the admin's
/// actions on it.
#[component]
pub fn AdminUserPage() -> impl IntoView {
    let address = PageAddress::current();
    let user_id = UserId::new(user_id_in(&address.path).unwrap_or_default());
    provide_context(FormContext {
        providers: Default::default(),
        here: routes::admin_user(&user_id),
        posted: PostedOutcome::from_query(&address),
    });

    view! {
        <Suspense fallback=Loading>
            {Suspend::new(async move {
                admin_view(admin_user(user_id).await, |detail| view! { <UserDetail detail/> }.into_any())
            })}
        </Suspense>
    }
    .into_any()
}

/// The user id in an admin's account page's path (`/admin/users/{id}`), decoded.
fn user_id_in(path: &str) -> Option<String> {
    let id = path.strip_prefix(routes::ADMIN_USERS)?.strip_prefix('/')?;
    Some(percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned())
}

#[component]
fn UserDetail(detail: AdminUserDetail) -> impl IntoView {
    let user = detail.user;
    let title = format!("{} · admin · latchkey", user.name);
    let end_sessions = FormAction::<AdminEndSessions>::new();
    let disable = FormAction::<AdminDisableUser>::new();
    let enable = FormAction::<AdminEnableUser>::new();
    let ended = form_outcome(move || end_sessions.latest(), "sessions_ended");
    let disabled = form_outcome(move || disable.latest(), "disabled");
    let enabled = form_outcome(move || enable.latest(), "enabled");
    let id = user.id.to_string();
    let state = match user.disabled_at {
        Some(at) => view! { <p class="notice"><Timestamp label="Disabled " at/></p> }.into_any(),
        None => ().into_any(),
    };
    let toggle_id = id.clone();
    let toggle = if user.disabled_at.is_some() {
        view! {
            <PostForm action=enable class="inline-form">
                <input type="hidden" name="user" value=toggle_id/>
                <button type="submit" class="button">"Enable this account"</button>
            </PostForm>
        }
        .into_any()
    } else {
        view! {
            <PostForm action=disable class="inline-form">
                <input type="hidden" name="user" value=toggle_id/>
                <button type="submit" class="button button--danger">"Disable this account"</button>
            </PostForm>
        }
        .into_any()
    };

    view! {
        <PageTitle text=title/>
        <PageFrame>
            <section class="card card--wide" aria-labelledby="admin-user-title">
                <p><a href=routes::ADMIN_USERS>"All accounts"</a></p>
                <h1 id="admin-user-title">{user.name}</h1>
                <ul class="facts">
                    <li>{user.email.unwrap_or_else(|| "no primary email".to_string())}</li>
                    <li>{format!("User id {}", user.id)}</li>
                    <li><Timestamp label="Created " at=user.created_at/></li>
                </ul>
                {state}
                <div class="actions">
                    <PostForm action=end_sessions class="inline-form">
                        <input type="hidden" name="user" value=id/>
                        <button type="submit" class="button button--secondary">"End all sessions"</button>
                    </PostForm>
                    {toggle}
                </div>
                <div aria-live="polite">
                    <FormStatus outcome=ended done="Every session of this account was ended."/>
                    <FormStatus outcome=disabled done="The account is disabled and signed out everywhere."/>
                    <FormStatus outcome=enabled done="The account is enabled again."/>
                </div>

                <h2>"Identities"</h2>
                <ul class="identity-list">
                    {detail
                        .identities
                        .into_iter()
                        .map(|identity| {
                            let subject = format!("Subject {} at {}", identity.subject, identity.issuer);
                            view! {
                                <li>
                                    <strong>{identity.label()}</strong>
                                    <ul class="facts">
                                        <li>{subject}</li>
                                        <li><Timestamp label="Linked " at=identity.linked_at/></li>
                                    </ul>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>

                <h2>"Sessions"</h2>
                {if detail.sessions.is_empty() {
                    view! { <p class="muted">"No live sessions."</p> }.into_any()
                } else {
                    view! {
                        <ul class="session-list">
                            {detail
                                .sessions
                                .into_iter()
                                .map(|session| {
                                    let browser = browser_summary(session.user_agent.as_deref());
                                    let via = session.provider.map(|provider| format!("Signed in via {provider}"));
                                    let ip = format!("IP address {}", session.ip.as_deref().unwrap_or("unknown"));
                                    view! {
                                        <li>
                                            <strong>{browser}</strong>
                                            <ul class="facts">
                                                {via.map(|via| view! { <li>{via}</li> })}
                                                <li><Timestamp label="Last active " at=session.last_seen_at/></li>
                                                <li>{ip}</li>
                                            </ul>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                    .into_any()
                }}

                <h2>"Recent activity"</h2>
                <ActivityTable events=detail.activity.events/>
            </section>
        </PageFrame>
    }
}
