//! `/api/openapi.json`: the whole public API in one OpenAPI 3.1 document, merged from the parts
//! each service generates from its handlers (`/openapi.json` on auth, ingest and query), plus
//! what edge itself may answer on every route (429 where it limits, 503 and 504 when a service is
//! down or slow); and `/api/docs`, the same document as a readable page.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::api_page::{DOCS_CSS, render};
use crate::error::Error;
use crate::state::AppState;
use crate::table::{Limit, Upstream, route_of};

/// `GET /api/openapi.json`, `GET /api/docs` and its stylesheet.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/openapi.json",
            get(|State(state): State<Arc<AppState>>| async move {
                match document(&state).await {
                    Ok(document) => axum::Json(document).into_response(),
                    Err(err) => unavailable(&err),
                }
            }),
        )
        .route(
            "/api/docs",
            get(|State(state): State<Arc<AppState>>| async move { serve_page(&state).await }),
        )
        .route(
            "/api/docs.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    DOCS_CSS,
                )
            }),
        )
}

/// Fetches every service's part and merges them.
async fn document(state: &AppState) -> Result<Value, String> {
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Event Analytics",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Collect events from browsers, apps and servers (PostHog, Segment, \
                Plausible and Umami SDKs, or the native route), manage users, projects and write \
                keys, and ask analytics questions. Every call goes through the edge. Errors are \
                JSON `{\"error\": {\"code\", \"message\"}}`.",
        },
        "servers": [{ "url": "/" }],
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            }
        },
        "tags": [],
    });
    for upstream in Upstream::SERVICES {
        let Some(base) = state.proxy.base(upstream) else {
            continue;
        };
        let url = format!("{base}/openapi.json");
        let part: Value = state
            .proxy
            .client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| format!("{upstream:?}: {err}"))?
            .json()
            .await
            .map_err(|err| format!("{upstream:?}: {err}"))?;
        merge(&mut document, &part);
    }
    merge(&mut document, &edge_part());
    add_edge_answers(&mut document);
    Ok(document)
}

/// What edge answers itself, generated from its handler's annotation like the services' parts.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(crate::routes::status::serve),
    components(schemas(contract::ErrorBody))
)]
struct EdgePart;

fn edge_part() -> Value {
    serde_json::to_value(<EdgePart as utoipa::OpenApi>::openapi()).unwrap_or_default()
}

/// Adds `part`'s paths, schemas and tags to `document`.
fn merge(document: &mut Value, part: &Value) {
    for section in ["/paths", "/components/schemas"] {
        if let (Some(Value::Object(from)), Some(Value::Object(into))) =
            (part.pointer(section), document.pointer_mut(section))
        {
            for (key, value) in from {
                into.insert(key.clone(), value.clone());
            }
        }
    }
    if let (Some(Value::Array(from)), Some(Value::Array(into))) =
        (part.get("tags"), document.get_mut("tags"))
    {
        into.extend(from.iter().cloned());
    }
}

/// What edge answers itself, on top of what each service documents.
fn add_edge_answers(document: &mut Value) {
    let error = json!({
        "description": "",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    });
    let with = |description: &str| {
        let mut response = error.clone();
        response["description"] = Value::String(description.to_owned());
        response
    };
    let Some(Value::Object(paths)) = document.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let limited = route_of(path).is_some_and(|route| route.limit != Limit::Unlimited);
        let Value::Object(operations) = item else {
            continue;
        };
        for operation in operations.values_mut() {
            let Some(Value::Object(responses)) = operation.get_mut("responses") else {
                continue;
            };
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| with(description));
            };
            add("503", "the service behind edge is unavailable; retry");
            add("504", "the service behind edge did not answer in time");
            if limited {
                add("429", "too many requests (Retry-After)");
            }
        }
    }
}

/// `GET /api/docs`: the document as HTML, with no script (the page passes the strict CSP).
async fn serve_page(state: &AppState) -> Response {
    match document(state).await {
        Ok(document) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            render(&document),
        )
            .into_response(),
        Err(err) => unavailable(&err),
    }
}

fn unavailable(err: &str) -> Response {
    tracing::warn!(error = %err, "a service did not describe its API");
    Error::DocumentUnavailable.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_merge_and_edge_adds_its_own_answers() {
        let mut document = json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "0"},
            "paths": {}, "components": {"schemas": {}}, "tags": []
        });
        merge(
            &mut document,
            &json!({
                "paths": {"/api/auth/login": {"post": {"tags": ["auth"], "responses": {"200": {"description": "ok"}}}}},
                "components": {"schemas": {"ErrorBody": {"type": "object"}}},
                "tags": [{"name": "auth"}]
            }),
        );
        merge(
            &mut document,
            &json!({"paths": {"/api/send": {"post": {"tags": ["ingest"], "responses": {}}}}, "tags": [{"name": "ingest"}]}),
        );
        add_edge_answers(&mut document);
        let login = &document["paths"]["/api/auth/login"]["post"]["responses"];
        assert!(login["200"].is_object() && login["503"].is_object() && login["504"].is_object());
        assert!(login["429"].is_object(), "login is rate-limited by edge");
        assert!(document["paths"]["/api/send"]["post"]["responses"]["429"].is_null());
        assert!(document["components"]["schemas"]["ErrorBody"].is_object());
        let page = render(&document);
        assert!(page.contains("<code>POST /api/auth/login</code>"), "{page}");
        assert!(!page.contains("<script"), "no script under the CSP");
    }
}
