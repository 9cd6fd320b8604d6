//! The stylesheet of the plain pages (see `latchkey_types::SiteFiles` for the built site's
//! names, which the composition finds at start-up).

use std::sync::OnceLock;

static STYLESHEET: OnceLock<String> = OnceLock::new();

/// The stylesheet the plain pages (sign-in failures, refusals) link; set once at start-up.
pub fn use_stylesheet(path: &str) {
    let _ = STYLESHEET.set(path.to_string());
}

pub(super) fn stylesheet() -> &'static str {
    STYLESHEET.get().map_or("/pkg/latchkey.css", String::as_str)
}
