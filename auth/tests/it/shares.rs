//! Shared links: a project's analysts share a dashboard by a link whose token is shown once,
//! optionally behind a password that is never echoed (printable ASCII, as it travels in a
//! header); they list and revoke them, at most 20 live per dashboard; a dashboard deleted takes
//! its links with it.

use contract::auth::AuthEvent;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::helpers::{Rebuilt, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn a_dashboard_is_shared_by_a_link_shown_once_and_revoked() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let project = auth.project(&admin, "Shared").await;
    let analyst = auth
        .person(&admin, &project, "ana@example.com", Some("analyst"))
        .await;
    let viewer = auth
        .person(&admin, &project, "vic@example.com", Some("viewer"))
        .await;
    let outsider = auth.person(&admin, &project, "out@example.com", None).await;
    let (status, insight) = auth
        .call(
            Method::POST,
            &format!("/api/projects/{project}/insights"),
            &analyst,
            Some(json!({ "name": "Pages", "kind": "top", "query": { "range": "7d", "params": "dimension=path" } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{insight}");
    let dashboards = format!("/api/projects/{project}/dashboards");
    let (_, board) = auth
        .call(
            Method::POST,
            &dashboards,
            &analyst,
            Some(json!({ "name": "Public", "insight_ids": [insight["id"]] })),
        )
        .await;
    let board_id = board["id"].as_str().expect("id").to_owned();
    let shares = format!("{dashboards}/{board_id}/shares");

    let (status, first) = auth
        .call(
            Method::POST,
            &shares,
            &analyst,
            Some(json!({
                "password": "open sesame",
                "embed_origins": ["https://Blog.Example.com/", "http://localhost:8080"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let token = first["token"].as_str().expect("token").to_owned();
    assert_eq!(first["link"], format!("/shared/{token}"));
    let share = &first["share"];
    assert_eq!(share["prefix"], token[..8]);
    assert_eq!(share["dashboard_id"], board_id);
    assert_eq!(share["has_password"], true);
    assert_eq!(
        share["embed_origins"],
        json!(["https://blog.example.com", "http://localhost:8080"])
    );
    assert_eq!(share["created_by"], "ana@example.com");
    assert!(!first.to_string().contains("open sesame"), "{first}");
    let share_id: Uuid = share["id"].as_str().expect("id").parse().expect("uuid");
    let project_id: Uuid = project.parse().expect("uuid");
    match auth
        .stream_messages(&contract::auth::share_subject(project_id, share_id))
        .await
        .as_slice()
    {
        [
            AuthEvent::ShareCreated {
                token_hash,
                password_hash,
                ..
            },
        ] => {
            let hash: String = Sha256::digest(token.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(*token_hash, hash);
            assert!(
                password_hash
                    .as_deref()
                    .is_some_and(|h| h.starts_with("$argon2id$")),
                "{password_hash:?}"
            );
        }
        other => panic!("expected the link's creation, got {other:?}"),
    }
    let (status, second) = auth
        .call(Method::POST, &shares, &admin, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["share"]["has_password"], false);
    assert_eq!(second["share"]["embed_origins"], json!([]));

    // Listed newest first, never with a token; for analysts and admins only.
    let (status, listed) = auth.call(Method::GET, &shares, &analyst, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["shares"], json!([second["share"], first["share"]]));
    assert!(!listed.to_string().contains(&token[8..]), "{listed}");
    assert_eq!(
        auth.call(Method::GET, &shares, &viewer, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::POST, &shares, &viewer, Some(json!({})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::GET, &shares, &outsider, None).await.0,
        StatusCode::NOT_FOUND
    );
    let nowhere = format!("{dashboards}/{}/shares", Uuid::now_v7());
    for method in [Method::GET, Method::POST] {
        let (status, _) = auth.call(method, &nowhere, &analyst, Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // A password that is short, long or not printable ASCII (query reads it from the
    // x-share-password header), or an origin that is not bare, is a 400.
    for password in [
        "short".to_owned(),
        "p".repeat(201),
        "mot de passé".to_owned(),
        "tab\there ok".to_owned(),
        "new\nline ok".to_owned(),
    ] {
        let (status, body) = auth
            .call(
                Method::POST,
                &shares,
                &analyst,
                Some(json!({ "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password:?}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("printable ASCII") && message.contains("x-share-password"),
            "{message}"
        );
    }
    let eleven: Vec<String> = (0..11).map(|i| format!("https://s{i}.example")).collect();
    for bad in [
        json!({ "embed_origins": ["https://*.example.com"] }),
        json!({ "embed_origins": ["https://example.com/page"] }),
        json!({ "embed_origins": ["example.com"] }),
        json!({ "embed_origins": eleven }),
    ] {
        let (status, body) = auth
            .call(Method::POST, &shares, &analyst, Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // Revoked (twice is fine), then the dashboard deleted takes the other link with it.
    let first_path = format!("{shares}/{share_id}");
    for _ in 0..2 {
        let (status, body) = auth.call(Method::DELETE, &first_path, &analyst, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    assert_eq!(
        auth.call(
            Method::DELETE,
            &format!("{shares}/{}", Uuid::now_v7()),
            &analyst,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, listed) = auth.call(Method::GET, &shares, &analyst, None).await;
    assert_eq!(listed["shares"], json!([second["share"]]));
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains("blog.example.com"), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("{dashboards}/{board_id}"),
            &analyst,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        auth.call(Method::GET, &shares, &analyst, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(auth.sql("SELECT count(*) FROM shares"), "0");
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert_eq!(auth.dump(), live, "rebuild equals live");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dashboard_has_at_most_twenty_live_links() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let project = auth.project(&admin, "Capped").await;
    let dashboards = format!("/api/projects/{project}/dashboards");
    let (status, board) = auth
        .call(
            Method::POST,
            &dashboards,
            &admin,
            Some(json!({ "name": "Public" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{board}");
    let shares = format!("{dashboards}/{}/shares", board["id"].as_str().expect("id"));
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, created) = auth
            .call(Method::POST, &shares, &admin, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {created}");
        ids.push(created["share"]["id"].as_str().expect("id").to_owned());
    }
    let (status, body) = auth
        .call(
            Method::POST,
            &shares,
            &admin,
            Some(json!({ "password": "open sesame" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("at most 20 shared links"), "{message}");

    // A revoked link leaves room for another.
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("{shares}/{}", ids[0]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = auth
        .call(Method::POST, &shares, &admin, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, listed) = auth.call(Method::GET, &shares, &admin, None).await;
    assert_eq!(listed["shares"].as_array().map(Vec::len), Some(20));
}
