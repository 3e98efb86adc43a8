//! Query's part of the public API description, generated from the handlers' annotations and the
//! contract's types; edge merges it into `/api/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use uuid::Uuid;

use crate::{api, journeys, live, system, trends};

#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(
        api::overview,
        trends::trends,
        api::top,
        api::events,
        api::event,
        journeys::funnel,
        journeys::retention,
        live::live,
        api::catalog,
        system::system,
    ),
    components(schemas(
        contract::ErrorBody,
        contract::query::ActiveUsers,
        contract::query::LiveEnd
    )),
    modifiers(&BearerAuth),
    tags((name = "query", description = "Analytics over a project's events (role analyst)"))
)]
pub struct ApiDoc;

/// The query-string parameters every query reads (`AppState::scope`): whose events, over which
/// range, with which filters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeParams {
    /// The project whose events are read.
    pub project_id: Uuid,
    /// Start of the range, inclusive: an RFC 3339 time, or a `YYYY-MM-DD` date in the project's
    /// time zone. Default: `to` minus 7 days.
    #[param(nullable = false)]
    pub from: Option<String>,
    /// End of the range: an RFC 3339 time (exclusive), or a `YYYY-MM-DD` date in the project's
    /// time zone (inclusive: the range ends when the next day starts). Default: now. The range
    /// must be positive and at most 1098 days long.
    #[param(nullable = false)]
    pub to: Option<String>,
    /// Conditions every event must meet: a JSON array of at most 20
    /// `{"key": "<dimension or property:<key>>", "op": "eq|neq|contains|set|not_set|gt|gte|lt|lte",
    /// "value": …}` (schema `FilterSpec`).
    #[param(nullable = false)]
    pub filter: Option<String>,
}

/// What [`api::AppState::scope`] answers instead of a scope, and a ClickHouse that is down or
/// over its memory cap: every query can answer these.
#[derive(Debug, utoipa::IntoResponses)]
pub enum ScopeErrors {
    /// A parameter is missing or invalid (the message names it).
    #[response(status = 400)]
    BadRequest(contract::ErrorBody),
    /// No valid bearer token.
    #[response(status = 401)]
    Unauthorized(contract::ErrorBody),
    /// The token's role is below analyst.
    #[response(status = 403)]
    Forbidden(contract::ErrorBody),
    /// No such project (for `/api/query/events/{id}`: or no such event).
    #[response(status = 404)]
    NotFound(contract::ErrorBody),
    /// The event store (or auth's signing keys) cannot be reached, or the query went over its
    /// memory cap; retry later or narrow the query.
    #[response(status = 503)]
    Unavailable(contract::ErrorBody),
}

/// What a query that runs SQL answers when ClickHouse stops it at `max_execution_time`.
#[derive(Debug, utoipa::IntoResponses)]
pub enum QueryTimeout {
    /// The query took longer than allowed; narrow the range or the filters.
    #[response(status = 504)]
    GatewayTimeout(contract::ErrorBody),
}

/// Declares the `bearer` scheme the paths' `security` names: an access token from auth.
#[derive(Debug)]
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use contract::query::{MAX_PERIODS, MAX_STEPS, MAX_WINDOW_SECONDS};
    use serde_json::{Value, json};
    use utoipa::OpenApi as _;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serialises")
    }

    /// Every `$ref` under `value`.
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => found.push(target),
                        _ => references(inner, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| references(item, found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_lists_every_query_route_with_its_statuses() {
        let document = document();
        let version = document["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3.1."), "{version}");
        let sql = ["200", "400", "401", "403", "404", "503", "504"];
        let with_body = ["200", "400", "401", "403", "404", "413", "503", "504"];
        let expected: [(&str, &str, &[&str]); 9] = [
            ("/api/query/overview", "get", &sql),
            ("/api/query/trends", "get", &sql),
            ("/api/query/top", "get", &sql),
            ("/api/query/events", "get", &sql),
            ("/api/query/events/{id}", "get", &sql),
            ("/api/query/funnel", "post", &with_body),
            ("/api/query/retention", "post", &with_body),
            (
                "/api/query/live",
                "get",
                &["200", "400", "401", "403", "404", "503"],
            ),
            ("/api/query/catalog", "get", &sql),
        ];
        let paths = document["paths"].as_object().expect("paths");
        // And the admins' system figures, which take no project.
        assert_eq!(paths.len(), expected.len() + 1, "{:?}", paths.keys());
        let system = &document["paths"]["/api/query/system"]["get"];
        assert_eq!(system["security"], json!([{ "bearer": [] }]));
        assert_eq!(
            system["responses"]["200"]["content"]["application/json"]["schema"],
            json!({ "$ref": "#/components/schemas/PipelineStatus" })
        );
        for status in ["401", "403", "503"] {
            assert!(system["responses"][status].is_object(), "{status}");
        }
        for (path, method, statuses) in expected {
            let operation = &document["paths"][path][method];
            assert!(operation.is_object(), "{method} {path} is not described");
            assert_eq!(operation["tags"], json!(["query"]), "{path}");
            assert_eq!(operation["security"], json!([{ "bearer": [] }]), "{path}");
            let documented: Vec<&str> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(documented, statuses, "{path}");
            for status in statuses.iter().filter(|status| **status != "200") {
                assert_eq!(
                    operation["responses"][status]["content"]["application/json"]["schema"],
                    json!({ "$ref": "#/components/schemas/ErrorBody" }),
                    "{path} {status}"
                );
            }
            let parameters = operation["parameters"].as_array().expect("parameters");
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == "project_id" && p["required"] == true),
                "{path}"
            );
        }
        assert!(
            document["paths"]["/api/query/live"]["get"]["responses"]["200"]["content"]
                ["text/event-stream"]
                .is_object()
        );
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn every_schema_the_document_refers_to_is_in_it() {
        let document = document();
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(
                document["components"]["schemas"][name].is_object(),
                "{target} is missing"
            );
        }
    }

    #[test]
    fn the_documented_limits_are_the_ones_the_handlers_check() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        let funnel = &schemas["FunnelRequest"]["properties"];
        assert_eq!(funnel["steps"]["maxItems"], json!(MAX_STEPS));
        assert_eq!(
            funnel["window_seconds"]["maximum"],
            json!(MAX_WINDOW_SECONDS)
        );
        assert_eq!(funnel["limit"]["maximum"], json!(crate::params::MAX_LIMIT));
        let retention = &schemas["RetentionRequest"]["properties"];
        assert_eq!(retention["periods"]["maximum"], json!(MAX_PERIODS));
        let top = &document["paths"]["/api/query/top"]["get"]["parameters"];
        let limit = top
            .as_array()
            .and_then(|parameters| parameters.iter().find(|p| p["name"] == "limit"))
            .expect("limit");
        assert_eq!(limit["schema"]["maximum"], json!(crate::params::MAX_LIMIT));
    }
}
