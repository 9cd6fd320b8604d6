//! A scripted browser: its own cookies over a shared connection pool, and the complete
//! sign-in a person makes (login → provider's page → allow → callback → `/api/me`).

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode};
use url::Url;

/// One browser. Cookies are kept by name only, as a browser does for one host (all of the
/// benchmark's servers are on 127.0.0.1, and cookies ignore ports).
pub struct Browser {
    http: Client,
    cookies: Vec<(String, String)>,
}

/// Someone signing in; each sign-in of the benchmark is a new person.
pub struct Person {
    pub name: String,
    pub email: String,
}

impl Browser {
    pub fn new(http: &Client) -> Browser {
        Browser { http: http.clone(), cookies: Vec::new() }
    }

    /// `GET`; the status, the `Location` (resolved) and the body.
    pub async fn get(&mut self, url: &Url) -> Result<Page, String> {
        let request = self.http.get(url.clone());
        self.send(url, request).await
    }

    async fn post_form(&mut self, url: &Url, form: &[(String, String)]) -> Result<Page, String> {
        let request = self.http.post(url.clone()).header(ORIGIN, url.origin().ascii_serialization()).form(form);
        self.send(url, request).await
    }

    async fn send(&mut self, url: &Url, request: reqwest::RequestBuilder) -> Result<Page, String> {
        let request = match self.cookie_header() {
            Some(cookies) => request.header(COOKIE, cookies),
            None => request,
        };
        let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
        for value in response.headers().get_all(SET_COOKIE) {
            if let Ok(value) = value.to_str() {
                self.store_cookie(value);
            }
        }
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).and_then(|v| url.join(v).ok());
        // Read the whole body so the connection goes back to the pool.
        let body = response.text().await.map_err(|e| format!("{url}: {e}"))?;
        Ok(Page { status, location, body })
    }

    /// This browser's cookies as a `Cookie` header value.
    pub fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty())
            .then(|| self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; "))
    }

    fn store_cookie(&mut self, set_cookie: &str) {
        let mut attributes = set_cookie.split(';');
        let Some((name, value)) = attributes.next().and_then(|pair| pair.trim().split_once('=')) else { return };
        let expired = attributes.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
        self.cookies.retain(|(existing, _)| existing != name);
        if !expired && !value.is_empty() {
            self.cookies.push((name.to_string(), value.to_string()));
        }
    }

    /// The whole sign-in of a new person, ending with `/api/me` showing them.
    pub async fn sign_in(&mut self, base: &Url, provider: &str, person: &Person) -> Result<(), String> {
        let login = join(base, &format!("/auth/{provider}/login"))?;
        let authorize = self.get(&login).await?.redirect("sign-in start")?;
        self.get(&authorize).await?.ok("the provider's sign-in page")?;
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.extend([
            ("name".to_string(), person.name.clone()),
            ("email".to_string(), person.email.clone()),
            ("email_verified".to_string(), "true".to_string()),
            ("decision".to_string(), "allow".to_string()),
        ]);
        let mut action = authorize.clone();
        action.set_query(None);
        let callback = self.post_form(&action, &form).await?.redirect("the provider's decision")?;
        let landing = self.get(&callback).await?.redirect("the callback")?;
        if landing.path() != "/profile" {
            return Err(format!("the callback sent the browser to {landing}, not to /profile"));
        }
        let me = self.get(&join(base, "/api/me")?).await?.ok("/api/me")?;
        if !me.body.contains(&format!("\"{}\"", person.email)) {
            return Err(format!("/api/me does not show {}: {}", person.email, excerpt(&me.body)));
        }
        Ok(())
    }
}

/// A response, read.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<Url>,
    pub body: String,
}

impl Page {
    fn redirect(self, step: &str) -> Result<Url, String> {
        match (self.status, self.location) {
            (StatusCode::SEE_OTHER | StatusCode::FOUND, Some(location)) => Ok(location),
            (status, _) => Err(format!("{step} answered {status}: {}", excerpt(&self.body))),
        }
    }

    pub fn ok(self, step: &str) -> Result<Page, String> {
        if self.status == StatusCode::OK {
            Ok(self)
        } else {
            Err(format!("{step} answered {}: {}", self.status, excerpt(&self.body)))
        }
    }
}

pub fn join(base: &Url, path: &str) -> Result<Url, String> {
    base.join(path).map_err(|e| format!("{base} + {path}: {e}"))
}

/// The start of a page, on one line, for error messages.
fn excerpt(body: &str) -> String {
    body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_replaced_by_name_and_removed_when_expired() {
        let mut browser = Browser::new(&Client::new());
        browser.store_cookie("latchkey_session=one; Path=/; HttpOnly");
        browser.store_cookie("latchkey_login=x; Path=/");
        browser.store_cookie("latchkey_session=two; Path=/");
        assert_eq!(browser.cookie_header().as_deref(), Some("latchkey_login=x; latchkey_session=two"));
        browser.store_cookie("latchkey_session=; Path=/; Max-Age=0");
        assert_eq!(browser.cookie_header().as_deref(), Some("latchkey_login=x"));
    }
}
