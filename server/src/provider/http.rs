//! How latchkey talks to providers: one HTTP client whose every call has a timeout, follows no
//! redirect (a provider endpoint that redirects is misconfigured, and following redirects from
//! server-side requests invites SSRF, and would carry the client secret elsewhere), and reads
//! no answer past [`MAX_RESPONSE_BYTES`], counted as it arrives.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http;
use oauth2::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

/// Far above any real discovery document, key set, token or userinfo answer.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Network(#[from] reqwest::Error),
}

/// The providers' HTTP client; cheap to clone.
#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    /// Whose calls these are, for the latency metric.
    provider: Arc<str>,
}

impl ProviderHttp {
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ProviderHttp { client, provider: Arc::from("") })
    }

    /// The same client (and connection pool), its calls counted for `provider`.
    pub fn for_provider(&self, provider: &str) -> ProviderHttp {
        ProviderHttp { client: self.client.clone(), provider: Arc::from(provider) }
    }

    /// For requests built by hand: build them on this client, send them with [`Self::send`]
    /// and read their answers with [`read_body`].
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request built on [`Self::client`], timing it for the provider latency metric.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
        let request = request.build()?;
        let endpoint = request.url().path().to_string();
        let started = std::time::Instant::now();
        let response = self.client.execute(request).await;
        crate::metrics::provider_call(&self.provider, &endpoint, started.elapsed());
        response
    }
}

/// A response body, refused as soon as it passes [`MAX_RESPONSE_BYTES`] (a provider, or
/// whoever answers in its name, cannot make latchkey hold an endless answer in memory).
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|length| length > MAX_RESPONSE_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What openidconnect and oauth2 call for discovery's keys, codes, refreshes and userinfo.
impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let endpoint = request.uri().path().to_string();
            let response = self.client.execute(request.try_into().map_err(Box::new)?).await.map_err(Box::new)?;
            let mut builder = http::Response::builder().status(response.status()).version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_body(response).await.map_err(|error| match error {
                BodyError::Network(error) => HttpClientError::Reqwest(Box::new(error)),
                too_large => HttpClientError::Other(too_large.to_string()),
            })?;
            crate::metrics::provider_call(&self.provider, &endpoint, started.elapsed());
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}
