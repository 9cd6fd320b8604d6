//! The HTML pages of the development identity provider. Every value echoed is
//! HTML-escaped.

use std::fmt::Write as _;

/// The values shown in the main sign-in form.
pub(super) struct UserForm<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
}

impl UserForm<'static> {
    pub(super) const DEFAULT: UserForm<'static> =
        UserForm { name: "Ada Lovelace", email: "ada@example.test", email_verified: true };
}

/// Quick-pick test users: (name, email, email_verified, note).
const PRESETS: &[(&str, &str, bool, &str)] = &[
    ("Grace Hopper", "grace@example.test", true, "verified email"),
    ("Alan Turing", "alan@example.test", false, "email not verified"),
    ("Ada Lovelace", "ADA@Example.Test", true, "the default person, email in mixed case (same subject)"),
];

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f4f5;color:#18181b}\
.banner{background:#fde68a;border-bottom:2px solid #b45309;color:#451a03;padding:.75rem 1rem;text-align:center}\
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
h1{font-size:1.35rem;margin:0 0 .5rem}h2{font-size:1rem;margin:1.5rem 0 .5rem}\
.muted{color:#52525b;font-size:.9rem}code{word-break:break-all}\
label{display:block;font-weight:600;margin:.75rem 0 .25rem}\
input[type=text]{width:100%;padding:.5rem;border:1px solid #a1a1aa;border-radius:.25rem;font:inherit}\
.check{display:flex;gap:.5rem;align-items:center;margin:.75rem 0}.check label{margin:0}\
.actions{display:flex;gap:.5rem;margin-top:1rem}\
button{font:inherit;padding:.5rem 1rem;border-radius:.25rem;border:1px solid #1d4ed8;background:#2563eb;color:#fff;cursor:pointer}\
button[value=deny]{background:#fff;color:#b91c1c;border-color:#b91c1c}\
.presets form{display:flex;gap:.5rem;align-items:center;margin:.35rem 0}\
.presets button{padding:.25rem .6rem;font-size:.9rem;background:#fff;color:#1d4ed8}\
.error{background:#fee2e2;border:1px solid #b91c1c;color:#7f1d1d;padding:.5rem .75rem;border-radius:.25rem}";

/// Escapes text for HTML element content and quoted attribute values.
pub(super) fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\">\
<title>{title}</title><style>{STYLE}</style></head><body>\
<header class=\"banner\"><strong>Development identity provider — not a real sign-in.</strong> \
Anyone can sign in as anyone here; never enable it in production.</header>\
<main>{body}</main></body></html>\n",
        title = escape(title),
    )
}

/// The consent / sign-in page. `hidden` carries the authorization request
/// parameters to POST back.
pub(super) fn authorize_page(
    action: &str,
    client_id: &str,
    redirect_uri: &str,
    hidden: &[(&str, &str)],
    form: &UserForm<'_>,
    error: Option<&str>,
) -> String {
    let mut hidden_inputs = String::new();
    for (name, value) in hidden {
        let _ = write!(hidden_inputs, "<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value));
    }
    let action = escape(action);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Sign in to {client}</h1>\
<p class=\"muted\">Choose who you are. You will be sent back to <code>{redirect}</code>.</p>",
        client = escape(client_id),
        redirect = escape(redirect_uri),
    );
    if let Some(error) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", escape(error));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{action}\">{hidden_inputs}\
<label for=\"name\">Name</label>\
<input type=\"text\" id=\"name\" name=\"name\" value=\"{name}\" autocomplete=\"off\">\
<label for=\"email\">Email</label>\
<input type=\"text\" id=\"email\" name=\"email\" value=\"{email}\" inputmode=\"email\" autocomplete=\"off\">\
<div class=\"check\"><input type=\"checkbox\" id=\"email_verified\" name=\"email_verified\" value=\"true\"{checked}>\
<label for=\"email_verified\">Email verified</label></div>\
<div class=\"actions\"><button name=\"decision\" value=\"allow\">Continue</button>\
<button name=\"decision\" value=\"deny\">Deny</button></div></form>",
        name = escape(form.name),
        email = escape(form.email),
        checked = if form.email_verified { " checked" } else { "" },
    );
    body.push_str("<section class=\"presets\"><h2>Quick pick</h2>");
    for (name, email, verified, note) in PRESETS {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"{action}\">{hidden_inputs}\
<input type=\"hidden\" name=\"name\" value=\"{name}\">\
<input type=\"hidden\" name=\"email\" value=\"{email}\">{verified}\
<button name=\"decision\" value=\"allow\">Sign in as {name}</button>\
<span class=\"muted\">{email} · {note}</span></form>",
            name = escape(name),
            email = escape(email),
            verified = if *verified { "<input type=\"hidden\" name=\"email_verified\" value=\"true\">" } else { "" },
            note = escape(note),
        );
    }
    body.push_str("</section>");
    body.push_str("<p class=\"muted\"><a href=\"sign-out\">Sign a person out everywhere…</a></p>");
    page("Sign in — development identity provider", &body)
}

/// "Sign this person out everywhere": the provider tells its client, with a back-channel
/// logout token, that the person signed out.
pub(super) fn sign_out_page(client_id: &str, outcome: Option<&str>) -> String {
    let mut body = format!(
        "<h1>Sign a person out everywhere</h1>\
<p class=\"muted\">Sends {client} a signed logout token naming the person, as a real provider does \
when someone signs out there or is removed.</p>",
        client = escape(client_id),
    );
    if let Some(outcome) = outcome {
        let _ = write!(body, "<p role=\"status\">{}</p>", escape(outcome));
    }
    body.push_str(
        "<form method=\"post\" action=\"sign-out\">\
<label for=\"email\">Email</label>\
<input type=\"text\" id=\"email\" name=\"email\" inputmode=\"email\" autocomplete=\"off\">\
<div class=\"actions\"><button>Sign this person out everywhere</button></div></form>",
    );
    page("Sign out everywhere — development identity provider", &body)
}

/// A plain error page, for requests that cannot be answered with a redirect.
/// What the end-session endpoint shows when the client gave no way back.
pub(super) fn signed_out_page() -> String {
    page(
        "Signed out — development identity provider",
        "<h1>You are signed out</h1><p class=\"muted\">The development provider keeps no sign-in of its own, \
so there was nothing more to end here.</p>",
    )
}

pub(super) fn error_page(message: &str) -> String {
    let body = format!(
        "<h1>Sign-in request refused</h1><p class=\"error\" role=\"alert\">{}</p>\
<p class=\"muted\">The request did not come from the registered client, so you are not sent back to it.</p>",
        escape(message)
    );
    page("Error — development identity provider", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_echoed() {
        let html = authorize_page(
            "http://idp/authorize",
            "<client>",
            "http://app/cb?a=1&b=\"2\"",
            &[("state", "\"><script>alert(1)</script>")],
            &UserForm { name: "O'Brien <b>", email: "a@b", email_verified: false },
            Some("<oops>"),
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<client>"));
        assert!(!html.contains("<oops>"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
        assert!(html.contains("O&#x27;Brien &lt;b&gt;"));
        assert!(html.contains("a=1&amp;b=&quot;2&quot;"));
        assert!(!html.contains("value=\"true\" checked"));
    }

    #[test]
    fn default_form_has_the_expected_controls() {
        let html = authorize_page("a", "c", "r", &[], &UserForm::DEFAULT, None);
        assert!(html.contains("<label for=\"name\">Name</label>"));
        assert!(html.contains("<label for=\"email\">Email</label>"));
        assert!(html.contains("<label for=\"email_verified\">Email verified</label>"));
        assert!(html.contains("value=\"Ada Lovelace\""));
        assert!(html.contains("value=\"ada@example.test\""));
        assert!(html.contains("value=\"true\" checked"));
        assert!(html.contains("<button name=\"decision\" value=\"allow\">Continue</button>"));
        assert!(html.contains("<button name=\"decision\" value=\"deny\">Deny</button>"));
        assert!(html.contains("Development identity provider — not a real sign-in"));
    }
}
