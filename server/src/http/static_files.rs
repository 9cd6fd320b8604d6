//! The built site (`/pkg`: the bundle and the stylesheet), served from memory. Its files are
//! written once by the build and never change while the server runs, so they are read once at
//! start-up, with the brotli and gzip copies `--precompress` writes beside them. A request is
//! then a map lookup: no file system call, no blocking-pool thread (serving from disk took
//! several of each per request, and a thread per concurrent request).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One file and its precompressed copies.
struct StaticFile {
    content_type: HeaderValue,
    etag: HeaderValue,
    identity: Bytes,
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// The files of one directory (and below it), by their path relative to it.
pub struct StaticFiles {
    files: HashMap<String, StaticFile>,
    cache_control: HeaderValue,
}

impl StaticFiles {
    /// Reads every file under `directory`; `name.br` and `name.gz` become the encoded copies
    /// of `name`. Answers carry `cache_control`.
    pub fn load(directory: &std::path::Path, cache_control: &'static str) -> std::io::Result<StaticFiles> {
        let mut contents = HashMap::new();
        read_tree(directory, "", &mut contents)?;
        let mut files = HashMap::new();
        for (name, identity) in &contents {
            if [".br", ".gz"].iter().any(|suffix| name.ends_with(suffix))
                && contents.contains_key(&name[..name.len() - 3])
            {
                continue;
            }
            let content_type = mime_guess::from_path(name).first_or_octet_stream();
            let file = StaticFile {
                content_type: HeaderValue::from_str(content_type.as_ref())
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                etag: etag(identity),
                identity: identity.clone(),
                brotli: contents.get(&format!("{name}.br")).cloned(),
                gzip: contents.get(&format!("{name}.gz")).cloned(),
            };
            files.insert(name.clone(), file);
        }
        Ok(StaticFiles { files, cache_control: HeaderValue::from_static(cache_control) })
    }

    /// The files under `mount` (`/pkg`).
    pub fn router(self, mount: &str) -> Router {
        let files = Arc::new(self);
        Router::new().route(&format!("{mount}/{{*path}}"), axum::routing::get(serve).with_state(files))
    }

    fn answer(&self, path: &str, request: &HeaderMap) -> Response {
        let Some(file) = self.files.get(path) else { return StatusCode::NOT_FOUND.into_response() };
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        headers.insert(header::ETAG, file.etag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if request.get(header::IF_NONE_MATCH).is_some_and(|tags| matches_etag(tags, &file.etag)) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(header::CONTENT_TYPE, file.content_type.clone());
        let body = match (&file.brotli, &file.gzip) {
            (Some(brotli), _) if accepts(request, "br") => Some(("br", brotli)),
            (_, Some(gzip)) if accepts(request, "gzip") => Some(("gzip", gzip)),
            _ => None,
        };
        let body = match body {
            Some((encoding, body)) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
                body.clone()
            }
            None => file.identity.clone(),
        };
        (headers, Body::from(body)).into_response()
    }
}

async fn serve(State(files): State<Arc<StaticFiles>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    files.answer(&name, &headers)
}

fn read_tree(directory: &std::path::Path, prefix: &str, into: &mut HashMap<String, Bytes>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            read_tree(&entry.path(), &format!("{name}/"), into)?;
        } else {
            into.insert(name, Bytes::from(std::fs::read(entry.path())?));
        }
    }
    Ok(())
}

/// A strong validator: the start of the content's SHA-256.
fn etag(content: &[u8]) -> HeaderValue {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(content);
    HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12]))).unwrap_or(HeaderValue::from_static("\"\""))
}

fn matches_etag(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(tags) = if_none_match.to_str() else { return false };
    let etag = etag.to_str().unwrap_or_default();
    tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Whether `Accept-Encoding` names `coding` (or `*`) without `q=0`.
fn accepts(request: &HeaderMap, coding: &str) -> bool {
    request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, StaticFiles) {
        let directory = tempfile::tempdir().expect("a directory");
        std::fs::write(directory.path().join("app.css"), "body{}").expect("a file");
        std::fs::write(directory.path().join("app.css.br"), "brotli").expect("a file");
        std::fs::write(directory.path().join("app.css.gz"), "gzip").expect("a file");
        std::fs::write(directory.path().join("app.wasm"), "wasm").expect("a file");
        let files = StaticFiles::load(directory.path(), "public, max-age=31536000, immutable").expect("loaded");
        (directory, files)
    }

    fn asking(accept_encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(accept_encoding).expect("a value"));
        headers
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1024).await.expect("a body");
        String::from_utf8(bytes.to_vec()).expect("text")
    }

    #[tokio::test]
    async fn the_best_encoding_the_browser_accepts_is_served() {
        let (_directory, files) = site();

        let brotli = files.answer("app.css", &asking("gzip, deflate, br"));
        let gzip = files.answer("app.css", &asking("gzip, br;q=0"));
        let plain = files.answer("app.css", &HeaderMap::new());
        let no_copy = files.answer("app.wasm", &asking("br"));

        assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(body(brotli).await, "brotli");
        assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(plain.headers().get(header::CONTENT_ENCODING), None);
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "text/css");
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(body(plain).await, "body{}");
        assert_eq!(no_copy.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(body(no_copy).await, "wasm");
    }

    #[tokio::test]
    async fn a_browser_holding_the_file_gets_304_and_an_unknown_file_404() {
        let (_directory, files) = site();
        let etag = files.answer("app.css", &HeaderMap::new()).headers()[header::ETAG].clone();
        let mut revalidating = HeaderMap::new();
        revalidating.insert(header::IF_NONE_MATCH, etag);

        assert_eq!(files.answer("app.css", &revalidating).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(files.answer("app.css.br", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        assert_eq!(files.answer("../Cargo.toml", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }
}
