//! A method a route does not answer is refused by edge itself, in JSON, before any service.

use std::time::Duration;

use devstack::stack::TestStack;

#[tokio::test(flavor = "multi_thread")]
async fn a_method_the_route_does_not_answer_is_a_405_json_from_edge() -> anyhow::Result<()> {
    // Every service is unreachable: the answers below can only come from edge.
    let stack = TestStack::builder().start()?;
    let edge = stack.edge(|config| config.upstream_timeout_ms = 2_000)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    for (method, path, allowed) in [
        (reqwest::Method::PUT, "/api/events", "POST"),
        (reqwest::Method::DELETE, "/batch/", "POST, OPTIONS"),
        (reqwest::Method::PATCH, "/api/auth/login", "POST"),
        (
            reqwest::Method::DELETE,
            "/api/query/trends",
            "GET, HEAD, POST",
        ),
    ] {
        let answer = http
            .request(method.clone(), edge.url(path))
            .body("{}")
            .send()
            .await?;
        assert_eq!(answer.status(), 405, "{method} {path}");
        assert_eq!(
            answer.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allowed),
            "{method} {path}"
        );
        let body: serde_json::Value = answer.json().await?;
        assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    }
    // An allowed method goes on to the (missing) service: 503, not 405.
    let answer = http.post(edge.url("/batch/")).body("{}").send().await?;
    assert_eq!(answer.status(), 503);
    Ok(())
}
