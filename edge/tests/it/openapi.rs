//! The OpenAPI document edge serves describes the whole API, and schemathesis finds no
//! violation of it.

use std::time::Duration;

use crate::helpers::create_project;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;

/// Every path of the public interface (DESIGN.md) the document must describe, with its method.
const DOCUMENTED: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/admin/status"),
    ("get", "/api/auth/projects"),
    ("get", "/api/admin/users"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("post", "/api/admin/projects"),
    ("get", "/api/admin/projects"),
    ("post", "/api/admin/projects/{id}/keys"),
    ("delete", "/api/admin/projects/{id}/keys/{key_id}"),
    ("post", "/api/events"),
    ("post", "/e/"),
    ("post", "/i/v0/e/"),
    ("post", "/capture/"),
    ("post", "/batch/"),
    ("post", "/v1/track"),
    ("post", "/v1/t"),
    ("post", "/v1/p"),
    ("post", "/v1/batch"),
    ("post", "/v1/b"),
    ("post", "/api/event"),
    ("post", "/api/send"),
    ("get", "/api/query/overview"),
    ("get", "/api/query/trends"),
    ("get", "/api/query/top"),
    ("post", "/api/query/funnel"),
    ("post", "/api/query/retention"),
    ("get", "/api/query/events"),
    ("get", "/api/query/events/{id}"),
    ("get", "/api/query/persons"),
    ("get", "/api/query/persons/{id}"),
    ("get", "/api/query/live"),
    ("get", "/api/query/catalog"),
    ("get", "/api/query/system"),
    ("get", "/api/query/insights/{insight_id}"),
    ("get", "/api/shared/{token}"),
    ("get", "/api/shared/{token}/insights/{insight_id}"),
    ("post", "/api/auth/api-keys"),
    ("get", "/api/auth/api-keys"),
    ("delete", "/api/auth/api-keys/{id}"),
    ("post", "/api/projects/{id}/insights"),
    ("get", "/api/projects/{id}/dashboards"),
    (
        "post",
        "/api/projects/{id}/dashboards/{dashboard_id}/shares",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_the_whole_api_and_schemathesis_finds_no_violation()
-> anyhow::Result<()> {
    let schemathesis = devstack::install::ensure(&[devstack::install::Need::Schemathesis])?
        .schemathesis
        .expect("schemathesis installed");
    let stack = TestStack::builder().everything().start()?;
    // Limits high enough that the fuzzer reaches the logic behind the account routes.
    let edge = stack.edge(|config| {
        config.limits.auth_per_client = plumbing::ratelimit::Rate::per_minute(100_000);
        config.limits.auth_per_account = plumbing::ratelimit::Rate::per_minute(100_000);
    })?;
    let http = reqwest::Client::new();
    let admin =
        devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    // Some data, so the query routes have something to answer with.
    let (_, key) = create_project(&http, &edge, &admin, "Fuzzed").await?;
    let batch: Vec<_> = (0..20)
        .map(|i| serde_json::json!({ "event": format!("e{}", i % 3), "distinct_id": format!("u{i}") }))
        .collect();
    let sent = http
        .post(edge.url("/batch/"))
        .body(serde_json::json!({ "api_key": key, "batch": batch }).to_string())
        .send()
        .await?;
    assert_eq!(sent.status(), 200);

    let document: serde_json::Value = http
        .get(edge.url("/api/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(document["openapi"], "3.1.0");
    for (method, path) in DOCUMENTED {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not described");
        assert!(
            operation["responses"]["503"].is_object(),
            "{method} {path}: edge's own 503"
        );
    }
    let login = &document["paths"]["/api/auth/login"]["post"];
    assert_eq!(
        login["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LoginRequest",
        "bodies come from the handlers' types"
    );
    assert!(login["responses"]["429"].is_object(), "edge limits logins");
    assert!(
        document["components"]["schemas"]["TokenResponse"]["properties"]["access_token"]
            .is_object()
    );
    let page = devstack::http::get(edge.addr.port(), "/api/docs", Duration::from_secs(10))?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<code>POST /api/auth/login</code>"));
    assert!(page.body.contains("id=\"schema-TokenResponse\""));

    // Schemathesis against the running stack, as the admin: no 5xx, and every status, content
    // type and body as the document says. The live feed never ends, so it is left out.
    let dir = TempDir::new("schemathesis")?;
    let output = tokio::process::Command::new(&schemathesis)
        .current_dir(dir.path())
        .arg("run")
        .arg(edge.url("/api/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--exclude-path",
            "/api/query/live",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "30",
            "--seed",
            "20261130",
            // One worker: schemathesis on CPython 3.11 trips over its own threads parsing
            // code at once (cpython gh-106905).
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--generation-database",
            "none",
            "--no-color",
        ])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), output).await??;
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
    eprintln!(
        "{}",
        report
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}
