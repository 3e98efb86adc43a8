//! What the edge tests share on top of `devstack::stack::TestStack`: JSON calls through edge,
//! registering a user and an analyst, and auth's signing keys.

use std::time::Duration;

use devstack::stack::PASSWORD;
use devstack::test::ServiceHandle;

/// `method url` with an optional bearer `token` and JSON `body`: the status and the answer's JSON
/// (null when it is not JSON).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let answer = request.send().await?;
    let status = answer.status().as_u16();
    Ok((status, answer.json().await.unwrap_or_default()))
}

/// A new project through edge, created by `admin`: its id and write key.
pub async fn create_project(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    admin: &str,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let (status, project) = call(
        http,
        reqwest::Method::POST,
        edge.url("/api/admin/projects"),
        Some(admin),
        Some(&serde_json::json!({ "name": name })),
    )
    .await?;
    anyhow::ensure!(status == 201, "create {name}: {status} {project}");
    let field = |name: &str| project[name].as_str().unwrap_or_default().to_owned();
    Ok((field("id"), field("write_key")))
}

/// Registers a user through edge (`name` left out when empty); the new account as auth answers
/// it.
pub async fn register(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    email: &str,
    password: &str,
    name: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut body = serde_json::json!({ "email": email, "password": password });
    if !name.is_empty() {
        body["name"] = serde_json::Value::from(name);
    }
    let (status, user) = call(
        http,
        reqwest::Method::POST,
        edge.url("/api/auth/register"),
        None,
        Some(&body),
    )
    .await?;
    anyhow::ensure!(status == 201, "register {email}: {status} {user}");
    Ok(user)
}

/// A user and an analyst, registered through edge (the admin makes the analyst an analyst
/// member of the built-in project; the user is a member of none), with their access tokens.
pub async fn user_and_analyst(
    http: &reqwest::Client,
    edge: &devstack::test::ServiceHandle,
    admin: &str,
) -> anyhow::Result<(String, String)> {
    for email in ["user@example.com", "analyst@example.com"] {
        let user = register(http, edge, email, PASSWORD, "").await?;
        if email.starts_with("analyst") {
            let id = user["id"].as_str().expect("user id");
            let project = contract::BUILTIN_PROJECT_ID;
            let added = http
                .put(edge.url(&format!("/api/admin/projects/{project}/members/{id}")))
                .bearer_auth(admin)
                .json(&serde_json::json!({ "role": "analyst" }))
                .send()
                .await?;
            assert_eq!(added.status(), 200);
        }
    }
    let port = edge.addr.port();
    let timeout = Duration::from_secs(30);
    Ok((
        devstack::test::access_token(port, "user@example.com", PASSWORD, timeout)?,
        devstack::test::access_token(port, "analyst@example.com", PASSWORD, timeout)?,
    ))
}

/// Auth's signing keys set to `keys` (comma-separated lines).
pub fn signing_keys(keys: String) -> impl Fn(&mut auth::Config) + Send + Sync + 'static {
    move |config| {
        config.keys = auth::KeySource::Inline(plumbing::config::Secret::new(keys.clone()));
    }
}
