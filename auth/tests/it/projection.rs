//! The projection: a redelivered event applied once, and a rebuild equal to the live tables.

use contract::auth::AuthEvent;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{PASSWORD, Rebuilt, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_is_applied_once() {
    let auth = TestAuth::start().expect("auth starts");
    let (_, user) = auth.register("frank@example.com").await;
    let user_id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");
    let pool = auth.pool();
    let last = auth::projector::last_applied(&pool).await.expect("state");
    let failed = AuthEvent::LoginFailed {
        user_id,
        at: time::OffsetDateTime::now_utc(),
    };

    // As if the projector committed sequence `last + 1000` and died before acking: the
    // redelivery of the same sequence changes nothing.
    auth::projector::apply(&pool, last + 1000, &failed)
        .await
        .expect("applies");
    auth::projector::apply(&pool, last + 1000, &failed)
        .await
        .expect("skips");
    assert_eq!(auth.sql("SELECT failed_logins FROM users"), "1");
    assert_eq!(
        auth::projector::last_applied(&pool).await.expect("state"),
        last + 1000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_equals_the_live_projection_and_an_erased_user_leaves_no_trace() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    for name in ["heidi", "ivan", "judy"] {
        auth.register(&format!("{name}@example.com")).await;
    }
    let (_, session) = auth.login("ivan@example.com", PASSWORD).await;
    let (_, refreshed) = auth
        .refresh(session["refresh_token"].as_str().expect("token"))
        .await;
    assert!(refreshed["access_token"].is_string(), "{refreshed}");
    auth.login("judy@example.com", "wrong password!").await;
    let (_, site) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Site" })),
        )
        .await;
    let site_id = site["id"].as_str().expect("id").to_owned();
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{site_id}/quota"),
            &admin,
            Some(json!({ "events_per_second": 20, "bytes_per_second": 4096 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, heidi) = auth.login("heidi@example.com", PASSWORD).await;
    let heidi_id = heidi["user"]["id"].as_str().expect("id").to_owned();

    let (status, _) = auth
        .call(
            reqwest::Method::DELETE,
            &format!("/api/admin/users/{heidi_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        auth.sql("SELECT count(*) FROM users WHERE email LIKE 'heidi%'"),
        "0"
    );
    let (status, _) = auth.login("heidi@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Let the audit events (failed login) settle, then compare a rebuild with the live state.
    let Rebuilt {
        live,
        applied,
        last,
    } = auth.rebuild_after_catching_up().await;
    assert!(applied > 10, "replayed {applied} events");
    assert_eq!(auth.dump(), live, "rebuild equals live");

    // No trace of the erased email: not in Postgres, not in any message on the stream.
    assert!(!live.contains("heidi"), "{live}");
    let stream = auth.js().await.get_stream("AUTH").await.expect("stream");
    let mut leaked = Vec::new();
    for sequence in 1..=last {
        if let Ok(message) = stream.direct_get(sequence).await
            && String::from_utf8_lossy(&message.payload).contains("heidi")
        {
            leaked.push(sequence);
        }
    }
    assert!(
        leaked.is_empty(),
        "messages still carrying the email: {leaked:?}"
    );
    // The email can be registered again.
    assert_eq!(
        auth.register("heidi@example.com").await.0,
        StatusCode::CREATED
    );
}
