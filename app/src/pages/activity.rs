use leptos::prelude::*;

use crate::{
    api::{ActivityEvent, ActivityPage, error_message, routes, security_activity},
    components::Timestamp,
    format::{activity_is_warning, activity_label, browser_summary},
    pages::{LoadError, Loading, PageAddress, PageTitle, signed_out_redirect},
};

/// The highest page number the URL may ask for (the log never gets near it).
const MAX_PAGE: u64 = 1_000_000;

/// `/activity?page=N` (1-based): the signed-in person's security activity,
/// newest first, with plain "Newer"/"Older" links.
#[component]
pub fn SecurityActivityPage() -> impl IntoView {
    let page = zero_based_page(PageAddress::current().query_value("page").as_deref());

    view! {
        <PageTitle text="Security activity · latchkey"/>
        <Suspense fallback=Loading>
            {Suspend::new(async move {
                match security_activity(page).await {
                    Ok(Some(activity)) => view! { <ActivityLog activity/> }.into_any(),
                    Ok(None) => signed_out_redirect(),
                    Err(e) => view! {
                        <LoadError message=error_message(&e) retry_href=routes::ACTIVITY/>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// `?page=` (1-based, as people read it) to the core's zero-based page;
/// anything unreadable is the first page.
pub fn zero_based_page(param: Option<&str>) -> u64 {
    param.and_then(|p| p.trim().parse::<u64>().ok()).filter(|n| *n >= 1).map(|n| n.min(MAX_PAGE) - 1).unwrap_or(0)
}

#[component]
fn ActivityLog(activity: ActivityPage) -> impl IntoView {
    let current = activity.page + 1;
    let pages = activity.pages;
    let newer = (current > 1).then(|| routes::activity_page((current - 1).min(pages.max(1)) - 1));
    let older = (current < pages).then(|| routes::activity_page(current));
    let position = (pages > 1 && current <= pages).then(|| format!("Page {current} of {pages}"));

    let body = if activity.events.is_empty() {
        let text =
            if pages == 0 { "Nothing has happened on your account yet." } else { "There is nothing on this page." };
        view! { <p class="muted empty">{text}</p> }.into_any()
    } else {
        view! { <ActivityTable events=activity.events/> }.into_any()
    };

    let pager = (newer.is_some() || older.is_some()).then(|| {
        view! {
            <nav class="pager" aria-label="Activity pages">
                {match newer {
                    Some(href) => view! { <a class="button button--secondary" href=href rel="prev">"Newer"</a> }.into_any(),
                    None => view! { <span class="pager__spacer"></span> }.into_any(),
                }}
                {position.map(|text| view! { <span class="pager__position">{text}</span> })}
                {match older {
                    Some(href) => view! { <a class="button button--secondary" href=href rel="next">"Older"</a> }.into_any(),
                    None => view! { <span class="pager__spacer"></span> }.into_any(),
                }}
            </nav>
        }
    });

    view! {
        <section class="card card--wide" aria-labelledby="activity-title">
            <h1 id="activity-title">"Security activity"</h1>
            <p class="lede">
                "Sign-ins, changes to your account and ended sessions, newest first. Times are in UTC."
            </p>
            {body}
            {pager}
        </section>
    }
    .into_any()
}

/// Events of an activity log as a table, in the order given.
#[component]
pub(crate) fn ActivityTable(events: Vec<ActivityEvent>) -> impl IntoView {
    view! {
        <div class="table-scroll" role="region" aria-label="Activity log" tabindex="0">
            <table class="activity">
                <caption class="visually-hidden">"Security activity, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Provider"</th>
                        <th scope="col">"Details"</th>
                        <th scope="col">"Time"</th>
                        <th scope="col">"IP address"</th>
                        <th scope="col">"Browser"</th>
                    </tr>
                </thead>
                <tbody>{events.into_iter().map(|event| view! { <ActivityRow event/> }).collect_view()}</tbody>
            </table>
        </div>
    }
}

#[component]
fn ActivityRow(event: ActivityEvent) -> impl IntoView {
    let class =
        if activity_is_warning(event.kind) { "activity__event activity__event--warning" } else { "activity__event" };
    let label = activity_label(event.kind);
    let browser = event.user_agent.as_deref().map(|ua| browser_summary(Some(ua)));
    let dash = || {
        view! {
            <span class="muted">
                <span aria-hidden="true">"—"</span>
                <span class="visually-hidden">"none"</span>
            </span>
        }
    };
    let or_dash = move |text: Option<String>| match text.filter(|t| !t.trim().is_empty()) {
        Some(text) => text.into_any(),
        None => dash().into_any(),
    };
    view! {
        <tr>
            <th scope="row" class=class data-label="Event">{label}</th>
            <td data-label="Provider">{or_dash(event.provider)}</td>
            <td data-label="Details" class="activity__detail">{or_dash(event.detail)}</td>
            <td data-label="Time"><Timestamp at=event.at/></td>
            <td data-label="IP address">{or_dash(event.ip)}</td>
            <td data-label="Browser" title=event.user_agent>{or_dash(browser)}</td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_based_pages() {
        assert_eq!(zero_based_page(None), 0);
        assert_eq!(zero_based_page(Some("1")), 0);
        assert_eq!(zero_based_page(Some("3")), 2);
        assert_eq!(zero_based_page(Some("0")), 0);
        assert_eq!(zero_based_page(Some("-2")), 0);
        assert_eq!(zero_based_page(Some("abc")), 0);
        assert_eq!(zero_based_page(Some("99999999999999999999")), 0);
        assert_eq!(zero_based_page(Some("18446744073709551615")), MAX_PAGE - 1);
    }
}
