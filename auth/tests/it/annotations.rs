//! A project's notes: its analysts write them, every member reads them, anyone else learns
//! nothing, and a rebuild gives them again.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Rebuilt, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn analysts_write_notes_members_read_them_and_others_learn_nothing() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let project = auth.project(&admin, "Notes").await;
    let analyst = auth
        .person(&admin, &project, "ana@example.com", Some("analyst"))
        .await;
    let viewer = auth
        .person(&admin, &project, "vic@example.com", Some("viewer"))
        .await;
    let outsider = auth.person(&admin, &project, "out@example.com", None).await;
    let notes = format!("/api/projects/{project}/annotations");

    let (status, note) = auth
        .call(
            Method::POST,
            &notes,
            &analyst,
            Some(json!({ "at": "2026-11-03T09:00:00Z", "content": "  Launched pricing v2 " })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["content"], "Launched pricing v2");
    assert_eq!(note["created_by"], "ana@example.com");
    assert_eq!(note["at"], "2026-11-03T09:00:00Z");
    let (_, second) = auth
        .call(
            Method::POST,
            &notes,
            &admin,
            Some(json!({ "at": "2026-11-20T09:00:00Z", "content": "Sale" })),
        )
        .await;
    let note_path = format!("{notes}/{}", note["id"].as_str().expect("id"));

    // Every member reads them, oldest first, within a window when asked.
    let (status, listed) = auth.call(Method::GET, &notes, &viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["annotations"], json!([note, second]));
    let (_, window) = auth
        .call(
            Method::GET,
            &format!("{notes}?from=2026-11-01T00:00:00Z&to=2026-11-08T00:00:00Z"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(window["annotations"], json!([note]));
    let (status, _) = auth
        .call(
            Method::GET,
            &format!("{notes}?from=yesterday"),
            &viewer,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A viewer writes nothing; someone outside the project learns nothing; bad notes are 400s.
    let body = json!({ "at": "2026-11-04T09:00:00Z", "content": "mine" });
    assert_eq!(
        auth.call(Method::POST, &notes, &viewer, Some(body.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::PUT, &note_path, &viewer, Some(body.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::GET, &notes, &outsider, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        auth.call(Method::DELETE, &note_path, &outsider, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for content in [json!(""), json!("   "), Value::String("x".repeat(401))] {
        let (status, _) = auth
            .call(
                Method::POST,
                &notes,
                &analyst,
                Some(json!({ "at": "2026-11-04T09:00:00Z", "content": content })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content}");
    }

    // Rewritten, then deleted.
    let (status, edited) = auth
        .call(
            Method::PUT,
            &note_path,
            &analyst,
            Some(json!({ "at": "2026-11-03T10:00:00Z", "content": "Launched pricing v2 (EU)" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        (&edited["content"], &edited["at"]),
        (
            &json!("Launched pricing v2 (EU)"),
            &json!("2026-11-03T10:00:00Z")
        )
    );
    assert_eq!(edited["created_by"], "ana@example.com", "the author stays");
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains("Launched pricing v2 (EU)"), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");
    assert_eq!(
        auth.call(Method::DELETE, &note_path, &analyst, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        auth.call(Method::DELETE, &note_path, &analyst, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, left) = auth.call(Method::GET, &notes, &viewer, None).await;
    assert_eq!(left["annotations"], json!([second]));
}
