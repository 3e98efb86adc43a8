//! The first-party tracker scripts edge serves, written here (`edge/trackers/`): a
//! Plausible-compatible one at `/js/script.js` and its variants (`script.<ext>(.<ext>)*.js`,
//! each extension switching on its feature; `plausible.js` and `plausible.<ext>.js`, Plausible's
//! legacy names, are the same scripts), and an Umami-compatible one at `/script.js`.
//! Pages on any site load them (CORS `*`); they are cached briefly and revalidated by ETag.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Plausible's script, with `/*FEATURES*/{}` where the variant's features are written.
const PLAUSIBLE: &str = include_str!("../trackers/plausible.js");
/// Umami's script.
const UMAMI: &str = include_str!("../trackers/umami.js");
/// Where the variant's features go in [`PLAUSIBLE`].
const FEATURES: &str = "/*FEATURES*/{}";

/// The extensions a Plausible script name may carry, each one feature of the script.
pub(crate) const PLAUSIBLE_EXTENSIONS: [&str; 10] = [
    "outbound-links",
    "file-downloads",
    "tagged-events",
    "hash",
    "local",
    "manual",
    "pageview-props",
    "revenue",
    "exclusions",
    "compat",
];

/// How long a browser keeps a script before asking again (with its ETag).
const CACHE_CONTROL: &str = "public, max-age=3600, must-revalidate";

pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/js/{name}", get(plausible))
        .route("/script.js", get(umami))
}

/// `GET /js/<name>`: Plausible's script of that variant; 404 for any other name.
async fn plausible(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match plausible_script(&name) {
        Some(script) => serve(&headers, script),
        None => (
            StatusCode::NOT_FOUND,
            [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
            axum::Json(contract::ErrorBody::new(
                "not_found",
                "no such script: /js/script.js (or /js/plausible.js) takes the extensions \
                 outbound-links, file-downloads, tagged-events, hash, local, manual, \
                 pageview-props, revenue, exclusions and compat",
            )),
        )
            .into_response(),
    }
}

/// `GET /script.js`: Umami's script.
async fn umami(headers: HeaderMap) -> Response {
    serve(&headers, UMAMI.to_owned())
}

/// The features a Plausible script name asks for (`script.js`, `script.hash.outbound-links.js`,
/// or the legacy `plausible.hash.js`), `None` for a name that is not one (an unknown or
/// repeated extension).
pub(crate) fn plausible_features(name: &str) -> Option<Vec<&'static str>> {
    let middle = name
        .strip_prefix("script")
        .or_else(|| name.strip_prefix("plausible"))?
        .strip_suffix(".js")?;
    let mut features = Vec::new();
    if middle.is_empty() {
        return Some(features);
    }
    for extension in middle.strip_prefix('.')?.split('.') {
        let known = PLAUSIBLE_EXTENSIONS
            .iter()
            .find(|known| **known == extension)?;
        if features.contains(known) {
            return None;
        }
        features.push(*known);
    }
    Some(features)
}

/// Plausible's script of the variant `name`, its features switched on.
fn plausible_script(name: &str) -> Option<String> {
    let features = plausible_features(name)?;
    let object: serde_json::Map<String, serde_json::Value> = features
        .into_iter()
        .map(|feature| (feature.to_owned(), serde_json::Value::Bool(true)))
        .collect();
    Some(PLAUSIBLE.replace(FEATURES, &serde_json::Value::Object(object).to_string()))
}

/// `script` as JavaScript any page may load, or 304 when the browser's copy is current.
fn serve(headers: &HeaderMap, script: String) -> Response {
    let etag = format!("\"{:016x}\"", fnv1a(script.as_bytes()));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            )],
            script,
        )
            .into_response()
    };
    let answer = response.headers_mut();
    answer.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    answer.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        answer.insert(header::ETAG, value);
    }
    response
}

/// FNV-1a, 64 bits: a stable fingerprint of a script for its ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names_switch_on_their_extensions_and_others_are_not_scripts() {
        assert_eq!(plausible_features("script.js"), Some(vec![]));
        assert_eq!(
            plausible_features("script.outbound-links.file-downloads.js"),
            Some(vec!["outbound-links", "file-downloads"])
        );
        assert_eq!(
            plausible_features("script.hash.local.js"),
            Some(vec!["hash", "local"])
        );
        // Plausible's legacy names are the same scripts.
        assert_eq!(plausible_features("plausible.js"), Some(vec![]));
        assert_eq!(
            plausible_features("plausible.revenue.exclusions.compat.js"),
            Some(vec!["revenue", "exclusions", "compat"])
        );
        for name in [
            "plausibles.js",
            "plausible.script.js",
            "script.nope.js",
            "script.hash.hash.js",
            "script..js",
            "script.hash",
            "other.js",
            "script.hash.js.map",
            "scripts.js",
        ] {
            assert_eq!(plausible_features(name), None, "{name}");
        }
    }

    #[test]
    fn a_variant_writes_its_features_into_the_script() {
        let script = plausible_script("script.tagged-events.js").unwrap_or_default();
        assert!(
            script.contains(r#"})({"tagged-events":true});"#),
            "{script}"
        );
        assert!(!script.contains(FEATURES));
        let plain = plausible_script("script.js").unwrap_or_default();
        assert!(plain.contains("})({});"));
    }
}
