//! Invites: a single-use link for one email, withdrawn at will; using it makes the invited
//! person a member.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Rebuilt, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_link_makes_its_email_a_member_once_and_a_withdrawn_one_nothing() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, created) = auth
        .call(
            Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Invited" })),
        )
        .await;
    let project = created["id"].as_str().expect("id").to_owned();
    let invites = format!("/api/admin/projects/{project}/invites");

    let (status, invite) = auth
        .call(
            Method::POST,
            &invites,
            &admin,
            Some(json!({ "email": " Carol@Example.com ", "role": "analyst" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let token = invite["token"].as_str().expect("token").to_owned();
    assert_eq!(invite["link"], format!("/invite/{token}"));
    assert_eq!(invite["invite"]["email"], "carol@example.com");
    assert_eq!(invite["invite"]["created_by"], "root@example.com");
    let (_, listed) = auth.call(Method::GET, &invites, &admin, None).await;
    assert_eq!(
        listed["invites"],
        json!([invite["invite"]]),
        "the token is not listed"
    );
    for bad in [
        json!({ "email": "nobody", "role": "viewer" }),
        json!({ "email": "a@b.example", "role": "viewer", "expires_in_days": 31 }),
    ] {
        assert_eq!(
            auth.call(Method::POST, &invites, &admin, Some(bad.clone()))
                .await
                .0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }

    // Someone else signed in cannot use it; Carol can, once.
    auth.register("mallory@example.com").await;
    let mallory = auth.token("mallory@example.com").await;
    let accept = |token: &str| Some(json!({ "token": token }));
    let (status, refused) = auth
        .call(
            Method::POST,
            "/api/auth/invites/accept",
            &mallory,
            accept(&token),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    auth.register("carol@example.com").await;
    let carol = auth.token("carol@example.com").await;
    let (status, accepted) = auth
        .call(
            Method::POST,
            "/api/auth/invites/accept",
            &carol,
            accept(&token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(
        accepted,
        json!({ "project_id": project, "project_name": "Invited", "role": "analyst" })
    );
    let (_, members) = auth
        .call(
            Method::GET,
            &format!("/api/admin/projects/{project}/members"),
            &admin,
            None,
        )
        .await;
    assert_eq!(members["members"][0]["email"], "carol@example.com");
    assert_eq!(members["members"][0]["role"], "analyst");
    let (status, again) = auth
        .call(
            Method::POST,
            "/api/auth/invites/accept",
            &carol,
            accept(&token),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
    assert_eq!(
        again["error"]["message"],
        "this invite link is no longer valid"
    );
    let (_, listed) = auth.call(Method::GET, &invites, &admin, None).await;
    assert_eq!(
        listed["invites"],
        json!([]),
        "a used invite is no longer pending"
    );

    // A withdrawn invite's link does nothing; a made-up one neither.
    let (_, second) = auth
        .call(
            Method::POST,
            &invites,
            &admin,
            Some(json!({ "email": "mallory@example.com", "role": "viewer" })),
        )
        .await;
    let second_token = second["token"].as_str().expect("token").to_owned();
    let revoke = format!("{invites}/{}", second["invite"]["id"].as_str().expect("id"));
    assert_eq!(
        auth.call(Method::DELETE, &revoke, &admin, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        auth.call(Method::DELETE, &revoke, &admin, None).await.0,
        StatusCode::NOT_FOUND
    );
    for token in [second_token.as_str(), "made-up"] {
        let (status, _) = auth
            .call(
                Method::POST,
                "/api/auth/invites/accept",
                &mallory,
                accept(token),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{token}");
    }
    // Members who are not the project's admins manage no invites.
    assert_eq!(
        auth.call(Method::GET, &invites, &carol, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::GET, &invites, &mallory, None).await.0,
        StatusCode::NOT_FOUND
    );

    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(
        live.contains("accepted") && live.contains("revoked"),
        "{live}"
    );
    assert_eq!(auth.dump(), live, "rebuild equals live");
}
