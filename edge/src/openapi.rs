//! `/api/openapi.json`: the whole public API in one OpenAPI 3.1 document, merged from the parts
//! each service generates from its handlers (`/openapi.json` on auth, ingest and query), plus
//! what edge itself may answer on every route (429 where it limits, 503 and 504 when a service is
//! down or slow); and `/api/docs`, the same document as a readable page.

use std::fmt::Write as _;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use plumbing::error::error_response;
use serde_json::{Map, Value, json};

use crate::proxy::{Gate, Limit, Upstream, route_of};

/// Fetches every service's part and merges them.
pub async fn document(gate: &Gate) -> Result<Value, String> {
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
        let Some(base) = gate.proxy.base(upstream) else {
            continue;
        };
        let url = format!("{base}/openapi.json");
        let part: Value = gate
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
#[openapi(paths(crate::status::serve), components(schemas(contract::ErrorBody)))]
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

/// `GET /api/openapi.json`.
pub async fn serve_json(gate: &Gate) -> Response {
    match document(gate).await {
        Ok(document) => axum::Json(document).into_response(),
        Err(err) => unavailable(&err),
    }
}

fn unavailable(err: &str) -> Response {
    tracing::warn!(error = %err, "a service did not describe its API");
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the API description is unavailable while a service is down",
    )
}

/// The page's stylesheet (a file, as the CSP allows no inline style).
pub const DOCS_CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#fff}\
main{max-width:960px;margin:0 auto;padding:1rem 1.5rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}\
th,td{border:1px solid #d5dae1;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f5f8}code{font-family:ui-monospace,monospace}\
section.operation{border-top:1px solid #d5dae1;margin-top:1rem}\
small{color:#5b6472;font-weight:normal}a{color:#2456c7}\
@media (prefers-color-scheme: dark){body{background:#12161c;color:#dde3ea}th{background:#1d232c}\
th,td,section.operation{border-color:#333c48}a{color:#8fb3ff}small{color:#9aa5b4}}";

/// `GET /api/docs`: the document as HTML, with no script (the page passes the strict CSP).
pub async fn serve_page(gate: &Gate) -> Response {
    match document(gate).await {
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A schema in a few words: `UserView`, `array of Rejected`, `string (uuid)`.
fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{name}\">{name}</a>", name = escape(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", schema_name(items));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(options)) = schema.get(combinator) {
            return options
                .iter()
                .map(schema_name)
                .collect::<Vec<_>>()
                .join(" or ");
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_owned(),
    };
    match schema.get("format").and_then(Value::as_str) {
        Some(format) => format!("{} ({})", escape(&kind), escape(format)),
        None => escape(&kind),
    }
}

fn render(document: &Value) -> String {
    let text = |value: Option<&Value>| escape(value.and_then(Value::as_str).unwrap_or_default());
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Event Analytics API</title>\
         <link rel=\"stylesheet\" href=\"/api/docs.css\"></head><body class=\"api-docs\"><main>",
    );
    let _ = write!(
        html,
        "<h1>{} API <small>{}</small></h1><p>{}</p>\
         <p>Machine-readable: <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI {}).</p>",
        text(document.pointer("/info/title")),
        text(document.pointer("/info/version")),
        text(document.pointer("/info/description")),
        text(document.get("openapi")),
    );
    let empty = Map::new();
    let paths = document
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let tags: Vec<String> = document
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| tag.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for tag in &tags {
        let _ = write!(html, "<h2 id=\"tag-{0}\">{0}</h2>", escape(tag));
        for (path, item) in paths {
            let Some(operations) = item.as_object() else {
                continue;
            };
            for (method, operation) in operations {
                let tagged = operation
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|list| list.iter().any(|t| t.as_str() == Some(tag.as_str())));
                if !tagged {
                    continue;
                }
                render_operation(&mut html, method, path, operation);
            }
        }
    }
    html.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            let _ = write!(html, "<h3 id=\"schema-{0}\">{0}</h3>", escape(name));
            if let Some(description) = schema.get("description").and_then(Value::as_str) {
                let _ = write!(html, "<p>{}</p>", escape(description));
            }
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                html.push_str(
                    "<table><tr><th>field</th><th>type</th><th>required</th><th>meaning</th></tr>",
                );
                for (field, property) in properties {
                    let _ = write!(
                        html,
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(field),
                        schema_name(property),
                        if required.contains(&field.as_str()) {
                            "yes"
                        } else {
                            ""
                        },
                        text(property.get("description")),
                    );
                }
                html.push_str("</table>");
            } else if let Some(Value::Array(values)) = schema.get("enum") {
                let values: Vec<String> = values
                    .iter()
                    .map(|value| format!("<code>{}</code>", escape(&value.to_string())))
                    .collect();
                let _ = write!(html, "<p>one of {}</p>", values.join(", "));
            } else {
                let _ = write!(html, "<p>{}</p>", schema_name(schema));
            }
        }
    }
    html.push_str("</main></body></html>");
    html
}

fn render_operation(html: &mut String, method: &str, path: &str, operation: &Value) {
    let text = |value: Option<&Value>| escape(value.and_then(Value::as_str).unwrap_or_default());
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    let _ = write!(
        html,
        "<section class=\"operation\"><h3><code>{} {}</code>{}</h3><p>{}</p>",
        escape(&method.to_uppercase()),
        escape(path),
        if secured {
            " <small>bearer token</small>"
        } else {
            ""
        },
        text(operation.get("description").or(operation.get("summary"))),
    );
    if let Some(Value::Array(parameters)) = operation.get("parameters") {
        html.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>meaning</th></tr>");
        for parameter in parameters {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(parameter.get("name")),
                text(parameter.get("in")),
                parameter.get("schema").map(schema_name).unwrap_or_default(),
                if parameter.get("required").and_then(Value::as_bool) == Some(true) {
                    "yes"
                } else {
                    ""
                },
                text(parameter.get("description")),
            );
        }
        html.push_str("</table>");
    }
    if let Some(Value::Object(content)) = operation.pointer("/requestBody/content") {
        for (media, body) in content {
            let _ = write!(
                html,
                "<p>Body ({}): {}</p>",
                escape(media),
                body.get("schema").map(schema_name).unwrap_or_default()
            );
        }
    }
    if let Some(Value::Object(responses)) = operation.get("responses") {
        html.push_str("<table><tr><th>status</th><th>body</th><th>meaning</th></tr>");
        for (status, response) in responses {
            let body = response
                .get("content")
                .and_then(Value::as_object)
                .and_then(|content| content.values().next())
                .and_then(|media| media.get("schema"))
                .map(schema_name)
                .unwrap_or_default();
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                body,
                text(response.get("description")),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section>");
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
