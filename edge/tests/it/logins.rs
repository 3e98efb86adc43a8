//! Edge's login limits, and a signing key added to auth accepted without restarting edge.

use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, TestStack};

use crate::helpers::signing_keys;

#[tokio::test(flavor = "multi_thread")]
async fn logins_beyond_the_limit_get_429_and_a_key_added_to_auth_is_accepted_without_restarting_edge()
-> anyhow::Result<()> {
    let first_key = auth::signing::generate_line()?;
    let mut stack = TestStack::builder()
        .configure_auth(signing_keys(first_key.clone()))
        .start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let old_token = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))?;
    let me = |token: String| {
        let http = http.clone();
        let url = edge.url("/api/auth/me");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|response| response.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(me(old_token.clone()).await, 200);

    // Rotation: auth restarts where it was with a second key, which now signs; edge, still
    // running, fetches the JWKS again for the unknown key id, and the token's first call waits
    // for that fetch instead of being refused.
    let second_key = auth::signing::generate_line()?;
    stack.restart_auth(signing_keys(format!("{first_key},{second_key}")))?;
    let new_token = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))?;
    assert_ne!(
        new_token.split('.').next(),
        old_token.split('.').next(),
        "the new token names another key"
    );
    assert_eq!(
        me(new_token.clone()).await,
        200,
        "the new key is accepted on its first use"
    );
    assert_eq!(me(old_token).await, 200, "the old key still verifies");

    // Logins: edge's own limiters, 3 per account and 5 per address (auth's failure lock is at
    // 10 per account, never reached).
    let limited = stack.edge(|config| {
        config.limits.auth_per_client = plumbing::ratelimit::Rate::per_minute(5);
        config.limits.auth_per_account = plumbing::ratelimit::Rate::per_minute(3);
    })?;
    let login = |email: &'static str| {
        let http = http.clone();
        let url = limited.url("/api/auth/login");
        async move {
            http.post(url)
                .json(&serde_json::json!({ "email": email, "password": "wrong password" }))
                .send()
                .await
        }
    };
    let mut codes = Vec::new();
    for email in [
        "victim@example.com",
        "victim@example.com",
        "Victim@Example.com",
        "victim@example.com",
        "other@example.com",
        "other@example.com",
    ] {
        let answer = login(email).await?;
        codes.push(answer.status().as_u16());
        if answer.status() == 429 {
            let retry: u64 = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            assert!((1..=60).contains(&retry), "{retry}");
            let body: serde_json::Value = answer.json().await?;
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        }
    }
    assert_eq!(
        codes[..],
        [401, 401, 401, 429, 401, 429],
        "the 4th for one account, then the 6th from one address"
    );
    Ok(())
}
