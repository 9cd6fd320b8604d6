//! Text for people: dates, browsers, activity kinds.
//!
//! Everything here is a pure function of its input (no clock, no locale), so
//! the server and the browser render exactly the same text and hydration
//! matches.

use chrono::{DateTime, SecondsFormat, Utc};
use latchkey_types::ActivityKind;

/// "22 Nov 2026, 14:05 UTC".
pub fn date_time(at: &DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// Machine-readable form for `<time datetime=…>`: "2026-11-22T14:05:09Z".
pub fn date_time_iso(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A short summary of a `User-Agent` header: "Chrome on Linux", "Safari on
/// iOS", "Firefox", "Unknown browser". Deliberately rough: it only has to help
/// people recognise their own devices.
pub fn browser_summary(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return "Unknown browser".to_string();
    };
    match (browser_name(ua), os_name(ua)) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser.to_string(),
        (None, Some(os)) => format!("Browser on {os}"),
        (None, None) => "Unknown browser".to_string(),
    }
}

fn browser_name(ua: &str) -> Option<&'static str> {
    // Order matters: most browsers also claim to be Chrome, Safari or Mozilla.
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("EdgiOS/", "Edge"),
        ("Edge/", "Edge"),
        ("OPR/", "Opera"),
        ("Opera", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("YaBrowser/", "Yandex Browser"),
        ("Vivaldi/", "Vivaldi"),
        ("Brave", "Brave"),
        ("DuckDuckGo/", "DuckDuckGo"),
        ("FxiOS/", "Firefox"),
        ("Firefox/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("Trident/", "Internet Explorer"),
        ("MSIE ", "Internet Explorer"),
        ("curl/", "curl"),
        ("Wget/", "Wget"),
        ("reqwest", "reqwest"),
        ("python-requests/", "Python requests"),
    ];
    BROWSERS.iter().find(|(marker, _)| ua.contains(marker)).map(|(_, name)| *name)
}

fn os_name(ua: &str) -> Option<&'static str> {
    const SYSTEMS: &[(&str, &str)] = &[
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("iPod", "iOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
        ("FreeBSD", "FreeBSD"),
        ("OpenBSD", "OpenBSD"),
    ];
    SYSTEMS.iter().find(|(marker, _)| ua.contains(marker)).map(|(_, name)| *name)
}

/// What happened, for people: "Signed in", "Failed sign-in", …
pub fn activity_label(kind: ActivityKind) -> &'static str {
    match kind {
        ActivityKind::SignedIn => "Signed in",
        ActivityKind::SignInFailed => "Failed sign-in",
        ActivityKind::SignedOut => "Signed out",
        ActivityKind::IdentityLinked => "Linked an account",
        ActivityKind::IdentityUnlinked => "Unlinked an account",
        ActivityKind::ProfileUpdated => "Changed profile",
        ActivityKind::SessionRevoked => "Ended a session",
        ActivityKind::AccountDeleted => "Deleted the account",
        ActivityKind::SignedOutByProvider => "Signed out by the provider",
        ActivityKind::OtherSessionsEnded => "Signed out everywhere else",
        ActivityKind::SessionsEndedByAdmin => "Every session ended by an admin",
        ActivityKind::AccountDisabled => "Account disabled by an admin",
        ActivityKind::AccountEnabled => "Account enabled again by an admin",
    }
}

/// Events worth a second look.
pub fn activity_is_warning(kind: ActivityKind) -> bool {
    matches!(kind, ActivityKind::SignInFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats_dates_stably() {
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 14, 5, 9).unwrap();
        assert_eq!(date_time(&at), "2 Nov 2026, 14:05 UTC");
        assert_eq!(date_time_iso(&at), "2026-11-02T14:05:09Z");
    }

    #[test]
    fn summarises_user_agents() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("something else", "Unknown browser"),
        ];
        for (ua, expected) in cases {
            assert_eq!(browser_summary(Some(ua)), expected, "{ua}");
        }
        assert_eq!(browser_summary(None), "Unknown browser");
        assert_eq!(browser_summary(Some("  ")), "Unknown browser");
    }

    #[test]
    fn labels_activity() {
        assert_eq!(activity_label(ActivityKind::SignedIn), "Signed in");
        assert_eq!(activity_label(ActivityKind::SessionRevoked), "Ended a session");
        assert!(activity_is_warning(ActivityKind::SignInFailed));
        assert!(!activity_is_warning(ActivityKind::SignedIn));
    }
}
