//! The plain-HTML page shown when a sign-in fails. It links the site's stylesheet so it
//! looks like the rest of latchkey, but needs no UI framework.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use html_escape::encode_quoted_attribute as escape_html;

pub struct ErrorPage {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    /// Where "Try again" leads, if trying again makes sense.
    pub retry_href: Option<String>,
    /// Further buttons: (label, href).
    pub actions: Vec<(String, String)>,
    /// Which check refused, in a fixed sentence: for the person who asks their operator why.
    pub reason: Option<&'static str>,
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let retry = self
            .retry_href
            .map(|href| format!(r#"<a class="button" href="{}">Try again</a> "#, escape_html(&href)))
            .unwrap_or_default();
        let actions: String = self
            .actions
            .iter()
            .map(|(label, href)| {
                format!(r#"<a class="button" href="{}">{}</a> "#, escape_html(href), escape_html(label))
            })
            .collect();
        let body = format!(
            r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · latchkey</title>
<link rel="stylesheet" href="{stylesheet}">
</head>
<body>
<main class="page">
<section class="card card--error" role="alert">
<h1>{title}</h1>
<p>{message}</p>
{reason}<p class="actions">{actions}{retry}<a class="button button--secondary" href="/">Home</a></p>
</section>
</main>
</body>
</html>
"#,
            reason =
                self.reason.map(|reason| format!("<p class=\"fineprint\">Reason: {reason}</p>\n")).unwrap_or_default(),
            title = escape_html(&self.title),
            stylesheet = escape_html(super::site::stylesheet()),
            message = escape_html(&self.message),
        );
        let mut response = (self.status, Html(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn everything_shown_is_escaped() {
        let page = ErrorPage {
            status: StatusCode::BAD_REQUEST,
            title: "<b>title</b>".into(),
            message: "a \"quoted\" <script>alert('x')</script> & more".into(),
            retry_href: Some("/auth/x\" onclick=\"evil".into()),
            actions: vec![("<i>label</i>".into(), "/y'z".into())],
            reason: None,
        };

        let response = page.into_response();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("a body");
        let html = String::from_utf8(body.to_vec()).expect("utf-8");

        assert!(!html.contains("<script>") && !html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more"), "{html}");
        assert!(html.contains(r#"href="/auth/x&quot; onclick=&quot;evil""#), "{html}");
    }
}
