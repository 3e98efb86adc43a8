//! Project members: the global analyst of an earlier release becomes an analyst member of every
//! project at auth's next start, through events, so a rebuild agrees; members are set, changed
//! and removed by the project's admins, and listed.

use contract::auth::{AuthEvent, Role};
use devstack::stack::Service;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Rebuilt, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn a_global_analyst_becomes_an_analyst_member_of_every_project_and_a_rebuild_agrees() {
    let mut auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let mut projects = vec![contract::BUILTIN_PROJECT_ID];
    for name in ["Shop", "Blog"] {
        let (status, created) = auth
            .call(
                Method::POST,
                "/api/admin/projects",
                &admin,
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        projects.push(created["id"].as_str().expect("id").parse().expect("uuid"));
    }
    let (_, user) = auth.register("ada@example.com").await;
    let ada: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");

    let (_, user) = auth.register("bo@example.com").await;
    let bo: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");

    // As an earlier release made Ada and Bo analysts (and then disabled Bo): role changes on
    // their subjects.
    let js = auth.js().await;
    let now = time::OffsetDateTime::now_utc();
    for (user_id, event) in [
        (
            ada,
            AuthEvent::RoleChanged {
                user_id: ada,
                role: Role::Analyst,
                by: None,
                at: now,
            },
        ),
        (
            bo,
            AuthEvent::RoleChanged {
                user_id: bo,
                role: Role::Analyst,
                by: None,
                at: now,
            },
        ),
        (
            bo,
            AuthEvent::UserDisabled {
                user_id: bo,
                by: None,
                at: now,
            },
        ),
    ] {
        js.publish(
            contract::auth::user_subject(user_id),
            serde_json::to_vec(&event).expect("json").into(),
        )
        .await
        .expect("published")
        .await
        .expect("stored");
    }
    let pool = auth.pool();
    devstack::wait::until_async(
        "Ada an analyst",
        std::time::Duration::from_secs(10),
        || async {
            sqlx::query_scalar::<_, String>("SELECT role FROM users WHERE id = $1")
                .bind(ada)
                .fetch_one(&pool)
                .await
                .is_ok_and(|role| role == "analyst")
        },
    )
    .await
    .expect("the old role projected");

    // The next start turns her into an analyst member of every project, and a user.
    auth.stack.restart(Service::Auth).expect("auth restarts");
    let mut expected: Vec<String> = projects.iter().map(|p| format!("{p}|analyst")).collect();
    expected.sort();
    assert_eq!(
        auth.sql(&format!(
            "SELECT project_id || '|' || role FROM project_members WHERE user_id = '{ada}' ORDER BY 1"
        )),
        expected.join("\n")
    );
    assert_eq!(
        auth.sql(&format!("SELECT role FROM users WHERE id = '{ada}'")),
        "user"
    );
    // A disabled analyst is converted too, and stays disabled.
    assert_eq!(
        auth.sql(&format!(
            "SELECT role || ' ' || disabled FROM users WHERE id = '{bo}'"
        )),
        "user true"
    );
    assert_eq!(
        auth.sql(&format!(
            "SELECT count(*) FROM project_members WHERE user_id = '{bo}'"
        )),
        "3"
    );
    // A restarted auth signs with keys of its own: both sign in again.
    let admin = auth.admin_token("root@example.com").await;
    let token = auth.token("ada@example.com").await;
    let (status, listed) = auth
        .call(Method::GET, "/api/auth/projects", &token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(
        listed["projects"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );
    assert!(
        listed["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|p| p["role"] == "analyst")
    );

    // An admin makes her a viewer of the shop and removes her from the blog.
    let member = |project: Uuid| format!("/api/admin/projects/{project}/members/{ada}");
    let (status, set) = auth
        .call(
            Method::PUT,
            &member(projects[1]),
            &admin,
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(
        (status, &set["role"]),
        (StatusCode::OK, &json!("viewer")),
        "{set}"
    );
    let (status, _) = auth
        .call(Method::DELETE, &member(projects[2]), &admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = auth
        .call(Method::DELETE, &member(projects[2]), &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a member any more");
    let (_, members) = auth
        .call(
            Method::GET,
            &format!("/api/admin/projects/{}/members", projects[1]),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        members,
        json!({ "members": [
            { "user_id": ada, "email": "ada@example.com", "name": "Ada", "role": "viewer" },
            { "user_id": bo, "email": "bo@example.com", "name": "Ada", "role": "analyst" },
        ] })
    );
    // Back on the blog as an admin of it: she manages its members, not the shop's.
    let (status, _) = auth
        .call(
            Method::PUT,
            &member(projects[2]),
            &admin,
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let blog_members = format!("/api/admin/projects/{}/members", projects[2]);
    assert_eq!(
        auth.call(Method::GET, &blog_members, &token, None).await.0,
        StatusCode::OK
    );
    let shop_members = format!("/api/admin/projects/{}/members", projects[1]);
    assert_eq!(
        auth.call(Method::GET, &shop_members, &token, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, refused) = auth
        .call(
            Method::PUT,
            &member(projects[1]),
            &token,
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer cannot promote herself: {refused}"
    );
    let (status, _) = auth
        .call(
            Method::PUT,
            &format!(
                "/api/admin/projects/{}/members/{}",
                projects[2],
                Uuid::now_v7()
            ),
            &token,
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such user");

    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains("viewer"), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");
}
