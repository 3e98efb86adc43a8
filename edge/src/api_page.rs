//! The OpenAPI document as a readable HTML page (`/api/docs`), with no script, so it passes the
//! strict Content-Security-Policy, and its stylesheet.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The page's stylesheet (a file, as the CSP allows no inline style).
pub(crate) const DOCS_CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2430;background:#fff}\
main{max-width:960px;margin:0 auto;padding:1rem 1.5rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}\
th,td{border:1px solid #d5dae1;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f5f8}code{font-family:ui-monospace,monospace}\
section.operation{border-top:1px solid #d5dae1;margin-top:1rem}\
small{color:#5b6472;font-weight:normal}a{color:#2456c7}\
@media (prefers-color-scheme: dark){body{background:#12161c;color:#dde3ea}th{background:#1d232c}\
th,td,section.operation{border-color:#333c48}a{color:#8fb3ff}small{color:#9aa5b4}}";

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

/// The document as an HTML page, operations grouped by tag, then the schemas.
pub(crate) fn render(document: &Value) -> String {
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
    render_schemas(&mut html, document);
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

/// The document's schemas: each one's fields in a table, or its values, or its type.
fn render_schemas(html: &mut String, document: &Value) {
    let text = |value: Option<&Value>| escape(value.and_then(Value::as_str).unwrap_or_default());
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
}
