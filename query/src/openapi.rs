//! Query's part of the public API description, generated from the routes' annotations and the
//! contract's types; edge merges it into `/api/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::routes::{
    catalog, erasure, events, insights, journeys, live, overview, persons, shared, system, top,
    trends,
};

#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(
        overview::overview,
        trends::trends,
        top::top,
        events::events,
        events::event,
        persons::persons,
        persons::person,
        journeys::funnel,
        journeys::retention,
        live::live,
        catalog::catalog,
        system::system,
        erasure::erase,
        erasure::export,
        insights::insight,
        shared::dashboard,
        shared::embedding,
        shared::tile,
    ),
    components(schemas(
        contract::ErrorBody,
        contract::query::ActiveUsers,
        contract::query::LiveEnd,
        contract::auth::SharedDashboard,
        contract::auth::SharedTile,
        contract::auth::InsightKind,
        contract::auth::InsightQuery
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "query", description = "Analytics over the events of the projects the caller may read (a token or an API key)"),
        (name = "shared", description = "A dashboard shared by a link, for anyone who has it")
    )
)]
pub(crate) struct ApiDoc;

/// Declares the `bearer` scheme the paths' `security` names: an access token from auth.
#[derive(Debug)]
pub(crate) struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT, or an API key (eak_…) on /api/query/*")
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
        let expected: [(&str, &str, &[&str]); 12] = [
            ("/api/query/overview", "get", &sql),
            ("/api/query/trends", "get", &sql),
            ("/api/query/top", "get", &sql),
            ("/api/query/events", "get", &sql),
            ("/api/query/events/{id}", "get", &sql),
            ("/api/query/persons", "get", &sql),
            ("/api/query/persons/{id}", "get", &sql),
            ("/api/query/funnel", "post", &with_body),
            ("/api/query/retention", "post", &with_body),
            (
                "/api/query/live",
                "get",
                &["200", "400", "401", "403", "404", "503"],
            ),
            ("/api/query/catalog", "get", &sql),
            ("/api/query/insights/{insight_id}", "get", &sql),
        ];
        let paths = document["paths"].as_object().expect("paths");
        // And the admins' system figures, which take no project, and their erasure and export
        // of a tracked person; and the two routes of a shared link, which take no token.
        assert_eq!(paths.len(), expected.len() + 6, "{:?}", paths.keys());
        for (path, statuses) in [
            (
                "/api/shared/{token}",
                ["200", "401", "404", "429"].as_slice(),
            ),
            ("/api/shared/{token}/embedding", ["200", "404"].as_slice()),
            (
                "/api/shared/{token}/insights/{insight_id}",
                ["200", "400", "401", "404", "429", "504"].as_slice(),
            ),
        ] {
            let operation = &document["paths"][path]["get"];
            assert_eq!(operation["tags"], json!(["shared"]), "{path}");
            assert!(operation["security"].is_null(), "{path} takes no token");
            let documented: Vec<&str> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(documented, statuses, "{path}");
        }
        let person = "/api/admin/projects/{project_id}/persons/{distinct_id}";
        for (path, method, statuses) in [
            (
                person.to_owned(),
                "delete",
                ["202", "400", "401", "403", "404", "503"].as_slice(),
            ),
            (
                format!("{person}/export"),
                "get",
                ["200", "400", "401", "403", "404", "503", "504"].as_slice(),
            ),
        ] {
            let operation = &document["paths"][path.as_str()][method];
            assert_eq!(operation["tags"], json!(["admin"]), "{path}");
            let documented: Vec<&str> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(documented, statuses, "{path}");
        }
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
                    .any(|p| (p["name"] == "project_id" || p["name"] == "insight_id")
                        && p["required"] == true),
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
