//! Admins: the first admin, roles, and the last-admin rule under concurrency.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn the_first_admin_manages_roles_and_cannot_remove_the_last_admin() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, grace) = auth.register("grace@example.com").await;
    let grace_id = grace["id"].as_str().expect("id").to_owned();
    let user_token = auth.token("grace@example.com").await;

    let (status, _) = auth
        .call(reqwest::Method::GET, "/api/admin/users", &user_token, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a user is not an admin");
    let (status, _) = auth
        .call(reqwest::Method::GET, "/api/admin/users", "garbage", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, page) = auth
        .call(
            reqwest::Method::GET,
            "/api/admin/users?q=GRACE",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["users"][0]["email"], "grace@example.com");
    let (_, everyone) = auth
        .call(reqwest::Method::GET, "/api/admin/users", &admin, None)
        .await;
    assert_eq!(everyone["total"], 2);

    let path = format!("/api/admin/users/{grace_id}");
    // Analyst is a role on a project now, not a global one.
    let (status, refused) = auth
        .call(
            reqwest::Method::PATCH,
            &path,
            &admin,
            Some(json!({ "role": "analyst" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, changed) = auth
        .call(
            reqwest::Method::PATCH,
            &path,
            &admin,
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "admin");
    let (_, relogin) = auth.login("grace@example.com", PASSWORD).await;
    assert_eq!(relogin["user"]["role"], "admin");

    let (status, disabled) = auth
        .call(
            reqwest::Method::PATCH,
            &path,
            &admin,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    let (status, refused) = auth.login("grace@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["code"], "account_disabled");
    let (status, _) = auth
        .refresh(relogin["refresh_token"].as_str().expect("token"))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "disabling ended the sessions"
    );

    let (_, me) = auth.me(&admin).await;
    let own = format!("/api/admin/users/{}", me["id"].as_str().expect("id"));
    let (status, body) = auth
        .call(
            reqwest::Method::PATCH,
            &own,
            &admin,
            Some(json!({ "role": "user" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the last admin stays: {body}");
    let (status, _) = auth.call(reqwest::Method::DELETE, &own, &admin, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_parallel_removals_of_the_last_two_admins_leave_exactly_one_admin() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let mut survivor = auth.admin_token("root@example.com").await;
    let (_, me) = auth.me(&survivor).await;
    let mut survivor_id = me["id"].as_str().expect("id").to_owned();
    let active_admins = "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled";
    let mut refusals = Vec::new();
    for round in 0..20 {
        // A second admin, then each of the two removes itself at the same moment: the caller
        // check passes for both, so only the last-admin rule can refuse one.
        let email = format!("admin{round}@example.com");
        let (_, user) = auth.register(&email).await;
        let id = user["id"].as_str().expect("id").to_owned();
        let (status, body) = auth
            .call(
                reqwest::Method::PATCH,
                &format!("/api/admin/users/{id}"),
                &survivor,
                Some(json!({ "role": "admin" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        let token = auth.token(&email).await;
        let (method, body) = match round % 3 {
            0 => (reqwest::Method::PATCH, Some(json!({ "role": "user" }))),
            1 => (reqwest::Method::PATCH, Some(json!({ "disabled": true }))),
            _ => (reqwest::Method::DELETE, None),
        };
        let (new_path, old_path) = (
            format!("/api/admin/users/{id}"),
            format!("/api/admin/users/{survivor_id}"),
        );
        let (new_admin, old_admin) = tokio::join!(
            auth.call(method, &new_path, &token, body),
            auth.call(
                reqwest::Method::PATCH,
                &old_path,
                &survivor,
                Some(json!({ "role": "user" })),
            ),
        );
        let statuses = [new_admin.0, old_admin.0];
        let succeeded = statuses.iter().filter(|s| s.is_success()).count();
        assert_eq!(
            succeeded, 1,
            "round {round}: exactly one removal succeeds: {new_admin:?} {old_admin:?}"
        );
        let refused = if new_admin.0.is_success() {
            &old_admin
        } else {
            &new_admin
        };
        assert_eq!(
            refused.0,
            StatusCode::CONFLICT,
            "round {round}: {refused:?}"
        );
        refusals.push(refused.1["error"]["message"].clone());
        assert_eq!(auth.sql(active_admins), "1", "round {round}");
        // The one whose removal was refused is the admin of the next round.
        if old_admin.0.is_success() {
            survivor = token;
            survivor_id = id;
        }
    }
    assert!(
        refusals
            .iter()
            .all(|message| message.as_str().is_some_and(|m| m.contains("last admin"))),
        "{refusals:?}"
    );

    // The guard's messages change nothing a rebuild would see differently.
    let rebuilt = auth.rebuild_after_catching_up().await;
    assert_eq!(auth.dump(), rebuilt.live, "rebuild equals live");
}
