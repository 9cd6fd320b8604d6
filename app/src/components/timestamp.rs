use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::format::{date_time, date_time_iso};

/// A moment, as "22 Nov 2026, 14:05 UTC" in a `<time>` element, optionally
/// after a label ("Linked " → "Linked 22 Nov 2026, 14:05 UTC"), as one piece
/// of text.
#[component]
pub fn Timestamp(at: DateTime<Utc>, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    let text = format!("{}{}", label.unwrap_or_default(), date_time(&at));
    view! { <time datetime=date_time_iso(&at)>{text}</time> }.into_any()
}
