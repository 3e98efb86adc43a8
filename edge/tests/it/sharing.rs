//! Through edge: an API key reads the query API (and nothing of auth's), and a shared
//! dashboard's page may be framed by the origins its sharer listed, and no other page by any.

use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::wait::until_async;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{call, create_project};

/// How long query may take to read a change from the stream.
const WAIT: Duration = Duration::from_secs(60);

/// The Content-Security-Policy of the page at `path` through edge.
async fn policy(
    http: &reqwest::Client,
    edge: &devstack::test::ServiceHandle,
    path: &str,
) -> String {
    let page = http.get(edge.url(path)).send().await.expect("edge answers");
    page.headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_passes_api_keys_to_query_only_and_lets_listed_origins_frame_a_shared_dashboard()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let admin =
        devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    let (project, _) = create_project(&http, &edge, &admin, "Blog").await?;
    let (_, me) = call(
        &http,
        Method::GET,
        edge.url("/api/auth/me"),
        Some(&admin),
        None,
    )
    .await?;
    let admin_id = me["id"].as_str().expect("admin id");
    let membership = edge.url(&format!("/api/admin/projects/{project}/members/{admin_id}"));
    let (status, set) = call(
        &http,
        Method::PUT,
        membership,
        Some(&admin),
        Some(&json!({ "role": "admin" })),
    )
    .await?;
    assert_eq!(status, 200, "{set}");

    // An API key: query answers it through edge; auth and the admins' routes do not.
    let (status, created) = call(
        &http,
        Method::POST,
        edge.url("/api/auth/api-keys"),
        Some(&admin),
        Some(&json!({ "name": "edge" })),
    )
    .await?;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("key").to_owned();
    let trends = edge.url(&format!("/api/query/trends?project_id={project}"));
    until_async("query taking the key through edge", WAIT, || async {
        call(&http, Method::GET, trends.clone(), Some(&key), None)
            .await
            .is_ok_and(|(status, _)| status == 200)
    })
    .await?;
    // Made-up keys: of a key's shape, query refuses it; of any other, edge does (as a token).
    for made_up in [
        format!("eak_{}", "A".repeat(43)),
        format!("eak_{}", "A".repeat(4_000)),
    ] {
        let (status, refused) =
            call(&http, Method::GET, trends.clone(), Some(&made_up), None).await?;
        assert_eq!(status, 401, "{refused}");
    }
    let erase = edge.url(&format!("/api/admin/projects/{project}/persons/someone"));
    let (status, _) = call(&http, Method::DELETE, erase, Some(&key), None).await?;
    assert_eq!(status, 401, "a key reaches query's analytics only");
    for path in ["/api/auth/me", "/api/query/system", "/api/admin/projects"] {
        let (status, refused) = call(&http, Method::GET, edge.url(path), Some(&key), None).await?;
        assert_eq!(status, 401, "{path}: {refused}");
    }

    // A dashboard shared for one origin to frame.
    let insight = json!({ "name": "Visits", "kind": "trends", "query": { "range": "7d", "params": "interval=day" } });
    let (status, saved) = call(
        &http,
        Method::POST,
        edge.url(&format!("/api/projects/{project}/insights")),
        Some(&admin),
        Some(&insight),
    )
    .await?;
    assert_eq!(status, 201, "{saved}");
    let dashboard = json!({ "name": "Blog", "insight_ids": [saved["id"]] });
    let (status, dashboard) = call(
        &http,
        Method::POST,
        edge.url(&format!("/api/projects/{project}/dashboards")),
        Some(&admin),
        Some(&dashboard),
    )
    .await?;
    assert_eq!(status, 201, "{dashboard}");
    let shares = format!(
        "/api/projects/{project}/dashboards/{}/shares",
        dashboard["id"].as_str().expect("id")
    );
    let share = json!({ "embed_origins": ["https://blog.example.com"] });
    let (status, share): (u16, Value) = call(
        &http,
        Method::POST,
        edge.url(&shares),
        Some(&admin),
        Some(&share),
    )
    .await?;
    assert_eq!(status, 201, "{share}");
    let page = share["link"].as_str().expect("link").to_owned();

    let framed = "frame-ancestors 'self' https://blog.example.com";
    until_async("the listed origin may frame the page", WAIT, || async {
        policy(&http, &edge, &page).await.contains(framed)
    })
    .await?;
    for other in ["/analytics", "/shared/not-a-link", "/"] {
        assert!(
            policy(&http, &edge, other)
                .await
                .contains("frame-ancestors 'none'"),
            "{other}"
        );
    }
    let (status, shown) = call(
        &http,
        Method::GET,
        edge.url(&format!("/api{page}")),
        None,
        None,
    )
    .await?;
    assert_eq!(
        status, 200,
        "the shared dashboard needs no sign-in: {shown}"
    );

    // Revoked: its page is framed by nobody.
    let revoke = edge.url(&format!(
        "{shares}/{}",
        share["share"]["id"].as_str().expect("id")
    ));
    let (status, _) = call(&http, Method::DELETE, revoke, Some(&admin), None).await?;
    assert_eq!(status, 204);
    until_async("no one may frame the revoked page", WAIT, || async {
        policy(&http, &edge, &page)
            .await
            .contains("frame-ancestors 'none'")
    })
    .await?;
    Ok(())
}
