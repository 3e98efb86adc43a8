//! Refusals of the analytics API: callers without the role, parameters that are missing, wrong
//! or hostile, a method the path does not answer, and a query over its memory cap, each with its
//! status and a message naming the problem.

use devstack::test::wait_for_readiness;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Stack, urlencode};

#[tokio::test(flavor = "multi_thread")]
async fn wrong_callers_and_parameter_abuse_get_their_4xx() {
    let stack = Stack::start();
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Abuse" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    stack.register("plain@example.com").await;
    let user = stack.token("plain@example.com");

    let overview = format!("/api/query/overview?project_id={project}");
    assert_eq!(stack.get(None, &overview).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        stack.get(Some("not.a.token"), &overview).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A user who is no member of the project: as if it did not exist.
    let (status, body) = stack.get(Some(&user), &overview).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["message"], "no such project", "{body}");
    assert_eq!(stack.get(Some(&admin), &overview).await.0, StatusCode::OK);
    // A method the path does not answer: 405 in the same JSON shape as every error.
    let (status, body) = stack
        .get(
            Some(&admin),
            &format!("/api/query/funnel?project_id={project}"),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");

    for (path, status, mentions) in [
        (
            format!("/api/query/overview?project_id={}", Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "project",
        ),
        (
            "/api/query/overview?project_id=1 OR 1=1".to_owned(),
            StatusCode::BAD_REQUEST,
            "project_id",
        ),
        (
            "/api/query/overview".to_owned(),
            StatusCode::BAD_REQUEST,
            "project_id",
        ),
        (
            format!("/api/query/overview?project_id={project}&from=2015-01-01&to=2026-01-01"),
            StatusCode::BAD_REQUEST,
            "days",
        ),
        (
            format!(
                "/api/query/trends?project_id={project}&from=2026-01-01&to=2026-03-01&interval=minute"
            ),
            StatusCode::BAD_REQUEST,
            "buckets",
        ),
        (
            format!("/api/query/trends?project_id={project}&interval=fortnight"),
            StatusCode::BAD_REQUEST,
            "interval",
        ),
        (
            format!("/api/query/trends?project_id={project}&measure=sum(1)"),
            StatusCode::BAD_REQUEST,
            "measure",
        ),
        (
            format!("/api/query/trends?project_id={project}&measure=sum"),
            StatusCode::BAD_REQUEST,
            "property",
        ),
        (
            format!("/api/query/top?project_id={project}&dimension=property:x')%20OR%201%3D1%20--"),
            StatusCode::BAD_REQUEST,
            "property key",
        ),
        (
            format!("/api/query/top?project_id={project}&dimension=password"),
            StatusCode::BAD_REQUEST,
            "dimension",
        ),
        (
            format!("/api/query/top?project_id={project}&limit=999999"),
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            format!("/api/query/events?project_id={project}&cursor=abc"),
            StatusCode::BAD_REQUEST,
            "cursor",
        ),
        (
            format!("/api/query/events/not-a-uuid?project_id={project}"),
            StatusCode::BAD_REQUEST,
            "UUID",
        ),
        (
            format!("/api/query/events/%FF?project_id={project}"),
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            format!("/api/query/events/{}?project_id={project}", Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "event",
        ),
        (
            format!("/api/query/overview?project_id={project}&from=tomorrow"),
            StatusCode::BAD_REQUEST,
            "tomorrow",
        ),
        (
            format!(
                "/api/query/overview?project_id={project}&filter={}",
                urlencode(r#"[{"key":"property:x') OR 1=1 --","op":"eq","value":"a"}]"#)
            ),
            StatusCode::BAD_REQUEST,
            "property key",
        ),
        (
            format!(
                "/api/query/overview?project_id={project}&filter={}",
                urlencode(r#"[{"key":"path","op":"gt","value":"many"}]"#)
            ),
            StatusCode::BAD_REQUEST,
            "numeric",
        ),
        (
            format!("/api/query/overview?project_id={project}&filter=plan%3Dpro"),
            StatusCode::BAD_REQUEST,
            "JSON array",
        ),
    ] {
        let (got, body) = stack.get(Some(&admin), &path).await;
        assert_eq!(got, status, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{path}: {body}");
    }
    // Still answering.
    assert_eq!(stack.get(Some(&admin), &overview).await.0, StatusCode::OK);

    // The API description is public: no token needed. Thirteen paths of analytics (a saved
    // insight's among them), the admins' erasure and export of a tracked person, and the three
    // of a shared link.
    let (status, document) = stack.get(None, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        document["paths"].as_object().map(serde_json::Map::len),
        Some(18),
        "{document}"
    );

    // A query over its memory cap is stopped by ClickHouse and answered 503, in JSON.
    let starved = stack
        .services
        .another_query(|config| {
            config.limits = query::Limits {
                max_memory_bytes: 1024,
                ..query::Limits::default()
            };
        })
        .expect("query");
    wait_for_readiness(&starved, 200).expect("ready");
    let response = stack
        .http
        .get(starved.url(&overview))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(
        !body.to_string().contains("DB::Exception"),
        "no internals: {body}"
    );
}
