//! Sessions: refresh-token rotation and reuse detection, and logins that do not tell an
//! unknown email from a wrong password.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("bob@example.com").await;
    let (status, first) = auth.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let first_token = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    let (status, second) = auth.refresh(&first_token).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_token = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(first_token, second_token);
    let (status, _) = auth
        .me(second["access_token"].as_str().expect("access"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The old token again: theft suspected, the family ends, the newest token dies with it.
    let (status, body) = auth.refresh(&first_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = auth.refresh(&second_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.sql("SELECT revoked_reason FROM sessions"),
        "token_reuse"
    );

    // A new login starts a new family; logout ends it.
    let (_, third) = auth.login("bob@example.com", PASSWORD).await;
    let third_token = third["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let (status, _, headers) = auth
        .post("/api/auth/logout", json!({ "refresh_token": third_token }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cookie.starts_with("refresh_token=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    let (status, _) = auth.refresh(&third_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.sql("SELECT count(*) FROM sessions WHERE revoked_reason = 'logout'"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_email_and_wrong_password_answer_identically() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("dave@example.com").await;
    let unknown = auth.login("nobody@example.com", PASSWORD).await;
    let wrong = auth.login("dave@example.com", "not the password").await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, wrong);
    // The failure is an audit event, projected as a counter on the account.
    let counted = devstack::wait::until_async(
        "the failure to be projected",
        Duration::from_secs(10),
        || async { auth.sql("SELECT failed_logins FROM users") == "1" },
    )
    .await;
    assert!(counted.is_ok());
}
