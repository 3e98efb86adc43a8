//! PostHog's script-tag path, answered by edge itself on the intake's origin: posthog-js's
//! browser bundle at `/static/array.js` (and `array.full.js`), with the bundles it loads
//! later (`surveys.js`, which it loads even with surveys off, the recorder and the others),
//! also at `/static/<version>/<name>.js` for the version built in: the npm package's files,
//! which `cargo xtask ui` copies into the web app's `static/` folder. Then the calls it makes
//! on start: feature flags (`/flags/`, older versions `/decide/`) and remote config
//! (`/array/<token>/config`, `config.js`), each answering "no flags, nothing enabled". Any
//! other `/static/` path is a 404, not the web app. CORS is open: the snippet runs on the
//! customer's site.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The file in `static/` naming the posthog-js version of the bundles there.
const VERSION_FILE: &str = "posthog-js.version";

/// How long browsers and caches may keep a bundle before asking again (with its ETag).
const BUNDLE_CACHE: &str = "public, max-age=300";

/// Where the bundles are, and the ones read so far with their ETags.
#[derive(Debug, Clone)]
pub(crate) struct Bundles {
    /// The web app's `static/` folder.
    dir: PathBuf,
    cache: Arc<Mutex<HashMap<PathBuf, Cached>>>,
}

/// A file as last read: while its modification time and length stay, it is served from memory.
#[derive(Debug, Clone)]
struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    body: axum::body::Bytes,
    etag: HeaderValue,
}

impl Bundles {
    pub(crate) fn new(ui_dir: &std::path::Path) -> Self {
        Self {
            dir: ui_dir.join("static"),
            cache: Arc::default(),
        }
    }

    /// The file at `path` and its ETag, from memory while it has not changed on disk.
    async fn read(&self, path: PathBuf) -> std::io::Result<Cached> {
        let meta = tokio::fs::metadata(&path).await?;
        let modified = meta.modified().ok();
        if let Some(hit) = self.lock().get(&path)
            && hit.modified == modified
            && hit.len == meta.len()
        {
            return Ok(hit.clone());
        }
        let body = axum::body::Bytes::from(tokio::fs::read(&path).await?);
        let digest = Sha256::digest(&body);
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{hex}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        let cached = Cached {
            modified,
            len: meta.len(),
            body,
            etag,
        };
        self.lock().insert(path, cached.clone());
        Ok(cached)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(crate) fn router(bundles: Bundles) -> Router {
    Router::new()
        .route("/static/{*file}", get(bundle).options(preflight))
        .route("/static", get(async || not_found()))
        .route("/static/", get(async || not_found()))
        .route("/flags", any(flags))
        .route("/flags/", any(flags))
        .route("/decide", any(flags))
        .route("/decide/", any(flags))
        .route(
            "/array/{token}/{file}",
            get(remote_config).options(preflight),
        )
        .with_state(bundles)
}

/// A bundle, gzip-compressed for browsers that accept it (the build writes `<name>.gz`), with
/// a short cache and an ETag (304 when the browser has this one).
async fn bundle(
    State(bundles): State<Bundles>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(file) = bundle_name(&bundles, &file).await else {
        return not_found();
    };
    let mut gzip = accepts_gzip(&headers);
    let mut read = if gzip {
        bundles.read(bundles.dir.join(format!("{file}.gz"))).await
    } else {
        bundles.read(bundles.dir.join(&file)).await
    };
    // A bundle built without its `.gz` is still served, plain.
    if gzip
        && read
            .as_ref()
            .is_err_and(|err| err.kind() == std::io::ErrorKind::NotFound)
    {
        gzip = false;
        read = bundles.read(bundles.dir.join(&file)).await;
    }
    let read = match read {
        Ok(read) => read,
        Err(err) => {
            if err.kind() != std::io::ErrorKind::NotFound {
                let dir = bundles.dir.display();
                tracing::error!(%dir, %file, error = %err, "tracker unreadable");
            }
            return not_found();
        }
    };
    let mut response = if if_none_match(&headers, &read.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        read.body.into_response()
    };
    let out = response.headers_mut();
    cors(out);
    out.insert(header::ETAG, read.etag);
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(BUNDLE_CACHE),
    );
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if response.status() == StatusCode::OK {
        let out = response.headers_mut();
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/javascript; charset=utf-8"),
        );
        if gzip {
            out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    response
}

/// The bundle `path` (under `/static/`) names: `<name>.js`, or `<version>/<name>.js` for the
/// version built in; `None` for anything else.
async fn bundle_name(bundles: &Bundles, path: &str) -> Option<String> {
    let name = match path.split_once('/') {
        None => path,
        Some((version, name)) => {
            let built = bundles.read(bundles.dir.join(VERSION_FILE)).await.ok()?;
            (version.as_bytes() == built.body.trim_ascii()).then_some(name)?
        }
    };
    let plain = name.strip_suffix(".js").is_some_and(|stem| {
        stem.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && stem
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    });
    plain.then(|| name.to_owned())
}

/// Whether the request names `etag` in `If-None-Match` (or `*`).
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    wanted
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == ours || tag == "*")
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accepted| {
            accepted.split(',').any(|coding| {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00"));
                name.eq_ignore_ascii_case("gzip") && !refused
            })
        })
}

/// Feature flags, for any method and query string: there are none, and nothing is enabled.
/// One answer serves both shapes: `/flags/?v=2` reads `flags`, `/decide/` the rest.
async fn flags(method: axum::http::Method) -> Response {
    if method == axum::http::Method::OPTIONS {
        return preflight().await;
    }
    let mut answer = nothing_enabled();
    if let Value::Object(fields) = &mut answer {
        for (name, value) in [
            ("flags", json!({})),
            ("featureFlags", json!({})),
            ("featureFlagPayloads", json!({})),
            ("errorsWhileComputingFlags", json!(false)),
            ("quotaLimited", json!([])),
            ("config", json!({ "enable_collect_everything": true })),
            ("toolbarParams", json!({})),
            ("isAuthenticated", json!(false)),
        ] {
            fields.insert(name.to_owned(), value);
        }
    }
    json_answer(&answer)
}

/// Remote config (`/array/<token>/config` as JSON, `config.js` as the script that leaves it
/// where posthog-js looks): nothing enabled.
async fn remote_config(Path((token, file)): Path<(String, String)>) -> Response {
    let token_like = !token.is_empty()
        && token.len() <= 200
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !token_like {
        return not_found();
    }
    let mut config = nothing_enabled();
    config["token"] = Value::from(token.as_str());
    match file.as_str() {
        "config" => json_answer(&config),
        "config.js" => {
            // The token is checked above, and both are written as JSON literals.
            let token = Value::from(token.as_str());
            let script = format!(
                "(function() {{\n  \
                 window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {{}};\n  \
                 window._POSTHOG_REMOTE_CONFIG[{token}] = {{ config: {config}, siteApps: [] }};\n\
                 }})();\n"
            );
            let mut response = script.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(BUNDLE_CACHE),
            );
            cors(headers);
            response
        }
        _ => not_found(),
    }
}

/// What remote config and flags both say: no flags, compression as ingest reads it (gzip,
/// recognised by its bytes), and no recording, heatmaps, surveys or other extension, so
/// posthog-js loads no further script.
fn nothing_enabled() -> Value {
    json!({
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": false,
        "sessionRecording": false,
        "heatmaps": false,
        "surveys": false,
        "productTours": false,
        "conversations": false,
        "logs": false,
        "siteApps": [],
        "captureDeadClicks": false,
        "capturePerformance": false,
        "autocapture_opt_out": false,
        "autocaptureExceptions": false,
        "elementsChainAsString": true,
        "defaultIdentifiedOnly": true,
    })
}

fn json_answer(body: &Value) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    cors(headers);
    response
}

/// The answer to a CORS preflight: any origin, method and header, for a day.
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    cors(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

fn not_found() -> Response {
    let mut response = plumbing::error::error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such tracker file".to_owned(),
    );
    cors(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bundle_without_its_gz_is_served_plain_to_a_browser_taking_gzip() {
        let ui = std::env::temp_dir().join(format!("edge-bundles-{}", std::process::id()));
        std::fs::create_dir_all(ui.join("static")).expect("a temporary folder");
        std::fs::write(ui.join("static").join("array.js"), "posthog()").expect("a bundle");
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let answer = bundle(
            State(Bundles::new(&ui)),
            Path("array.js".to_owned()),
            headers,
        )
        .await;
        let _ = std::fs::remove_dir_all(&ui);
        assert_eq!(answer.status(), StatusCode::OK);
        assert!(answer.headers().get(header::CONTENT_ENCODING).is_none());
        let body = axum::body::to_bytes(answer.into_body(), 1024)
            .await
            .expect("the body");
        assert_eq!(body.as_ref(), b"posthog()");
    }
}
