//! A project's history: every change to the project, newest first, who did it and what in
//! words, a page at a time, for the project's admins only, never a secret, the same after a
//! rebuild.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::{Rebuilt, TestAuth};

/// The whole history of `project` as `token` reads it, a page of `limit` at a time: the entries
/// newest first, and how many pages it took.
async fn whole_history(
    auth: &TestAuth,
    token: &str,
    project: &str,
    limit: u32,
) -> (Vec<Value>, usize) {
    let mut entries = Vec::new();
    let mut before: Option<u64> = None;
    let mut pages = 0;
    loop {
        let path = match before {
            Some(before) => {
                format!("/api/admin/projects/{project}/audit?limit={limit}&before={before}")
            }
            None => format!("/api/admin/projects/{project}/audit?limit={limit}"),
        };
        let (status, page) = auth.call(Method::GET, &path, token, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        let listed = page["entries"].as_array().expect("entries").clone();
        assert!(listed.len() <= limit as usize, "{page}");
        entries.extend(listed);
        match page["next_before"].as_u64() {
            Some(next) => before = Some(next),
            None => return (entries, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projects_history_names_who_did_what_newest_first_without_a_secret() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (status, created) = auth
        .call(
            Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Storied" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let project = created["id"].as_str().expect("id").to_owned();
    let first_key = created["write_key"].as_str().expect("key").to_owned();
    let carol = auth
        .person(&admin, &project, "carol@example.com", Some("analyst"))
        .await;
    let pam = auth
        .person(&admin, &project, "pam@example.com", Some("admin"))
        .await;
    let viewer = auth
        .person(&admin, &project, "vic@example.com", Some("viewer"))
        .await;
    let outsider = auth.person(&admin, &project, "out@example.com", None).await;

    // A second write key, the first revoked.
    let (status, second_key) = auth
        .call(
            Method::POST,
            &format!("/api/admin/projects/{project}/keys"),
            &pam,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second_key}");
    let (_, projects) = auth
        .call(Method::GET, "/api/admin/projects", &admin, None)
        .await;
    let first_key_id = projects["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["id"] == project)
        .and_then(|p| p["keys"].as_array()?.iter().find(|k| k["key"] == first_key))
        .and_then(|k| k["id"].as_str())
        .expect("the first key listed")
        .to_owned();
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("/api/admin/projects/{project}/keys/{first_key_id}"),
            &pam,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Carol saves an insight and a dashboard and shares it behind a password.
    let (_, insight) = auth
        .call(
            Method::POST,
            &format!("/api/projects/{project}/insights"),
            &carol,
            Some(json!({ "name": "Pages", "kind": "top", "query": { "range": "7d", "params": "dimension=path" } })),
        )
        .await;
    let (_, board) = auth
        .call(
            Method::POST,
            &format!("/api/projects/{project}/dashboards"),
            &carol,
            Some(json!({ "name": "Weekly", "insight_ids": [insight["id"]] })),
        )
        .await;
    let board_id = board["id"].as_str().expect("dashboard id").to_owned();
    let (status, share) = auth
        .call(
            Method::POST,
            &format!("/api/projects/{project}/dashboards/{board_id}/shares"),
            &carol,
            Some(json!({ "password": "open sesame" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let share_token = share["token"].as_str().expect("token").to_owned();

    // The project's admins and instance admins read its history; nobody else.
    let audit = format!("/api/admin/projects/{project}/audit");
    for (token, refused) in [
        (&carol, StatusCode::FORBIDDEN),
        (&viewer, StatusCode::FORBIDDEN),
        (&outsider, StatusCode::NOT_FOUND),
    ] {
        let (status, body) = auth.call(Method::GET, &audit, token, None).await;
        assert_eq!(status, refused, "{body}");
    }

    // Pam sets the retention and invites someone; the viewer leaves the project and is erased.
    let (status, _) = auth
        .call(
            Method::PUT,
            &format!("/api/admin/projects/{project}/retention"),
            &pam,
            Some(json!({ "months": 13 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, invite) = auth
        .call(
            Method::POST,
            &format!("/api/admin/projects/{project}/invites"),
            &pam,
            Some(json!({ "email": "dave@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let invite_token = invite["token"].as_str().expect("token").to_owned();
    let (_, vic) = auth.me(&viewer).await;
    let vic_id = vic["id"].as_str().expect("id").to_owned();
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("/api/admin/projects/{project}/members/{vic_id}"),
            &pam,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, page) = auth.call(Method::GET, &audit, &pam, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.get("next_before").is_none(), "one page: {page}");
    let entries = page["entries"].as_array().expect("entries").clone();
    let lines: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().expect("actor").to_owned(),
                e["action"].as_str().expect("action").to_owned(),
                e["summary"].as_str().expect("summary").to_owned(),
            )
        })
        .collect();
    let line = |actor: &str, action: &str, summary: &str| {
        (actor.to_owned(), action.to_owned(), summary.to_owned())
    };
    let shown = |key: &str| format!("{}…", key.chars().take(8).collect::<String>());
    let second_key = second_key["key"].as_str().expect("key").to_owned();
    assert_eq!(
        lines,
        vec![
            line(
                "pam@example.com",
                "member_removed",
                "vic@example.com is no longer a member"
            ),
            line(
                "pam@example.com",
                "invite_created",
                "dave@example.com invited as viewer"
            ),
            line(
                "pam@example.com",
                "project_retention_set",
                "retention set to 13 months"
            ),
            line(
                "carol@example.com",
                "share_created",
                "shared dashboard Weekly (with a password)"
            ),
            line(
                "carol@example.com",
                "dashboard_saved",
                "dashboard Weekly created (1 insight)"
            ),
            line(
                "carol@example.com",
                "insight_saved",
                "insight Pages (top) created"
            ),
            line(
                "pam@example.com",
                "write_key_revoked",
                &format!("write key {} revoked", shown(&first_key))
            ),
            line(
                "pam@example.com",
                "write_key_issued",
                &format!("write key {} issued", shown(&second_key))
            ),
            line(
                "root@example.com",
                "member_set",
                "vic@example.com is viewer"
            ),
            line("root@example.com", "member_set", "pam@example.com is admin"),
            line(
                "root@example.com",
                "member_set",
                "carol@example.com is analyst"
            ),
            line(
                "root@example.com",
                "write_key_issued",
                &format!("write key {} issued", shown(&first_key))
            ),
            line(
                "root@example.com",
                "project_created",
                "project Storied created (time zone UTC)"
            ),
        ]
    );
    let sequences: Vec<u64> = entries
        .iter()
        .map(|e| e["sequence"].as_u64().expect("sequence"))
        .collect();
    assert!(
        sequences.windows(2).all(|w| w[0] > w[1]),
        "newest first: {sequences:?}"
    );
    assert!(entries.iter().all(|e| e["at"].is_string()), "{page}");

    // No secret: not the write keys, not the tokens nor their hashes, not the password.
    let text = page.to_string();
    let sha = |token: &str| -> String {
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    for secret in [
        first_key.clone(),
        second_key.clone(),
        share_token.clone(),
        sha(&share_token),
        invite_token.clone(),
        sha(&invite_token),
        "open sesame".to_owned(),
        "$argon2".to_owned(),
    ] {
        assert!(!text.contains(&secret), "{secret} in {text}");
    }

    // Paging with `before` gives the same entries, a few at a time.
    let (paged, pages) = whole_history(&auth, &pam, &project, 3).await;
    assert_eq!(paged, entries);
    assert_eq!(pages, 5);
    let (status, older) = auth
        .call(
            Method::GET,
            &format!("{audit}?before={}&limit=2", sequences[10]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{older}");
    assert_eq!(older["entries"], json!(entries[11..13]));
    assert!(older.get("next_before").is_none(), "{older}");

    for bad in ["limit=0", "limit=201", "before=x"] {
        assert_eq!(
            auth.call(Method::GET, &format!("{audit}?{bad}"), &pam, None)
                .await
                .0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }

    // Someone erased is no longer named.
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("/api/admin/users/{vic_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = auth.call(Method::GET, &audit, &admin, None).await;
    assert_eq!(
        after["entries"][0]["summary"],
        "an erased user is no longer a member"
    );
    assert_eq!(after["entries"][8]["summary"], "an erased user is viewer");
    assert!(!after.to_string().contains("vic@"), "{after}");

    // A note added, changed and deleted: quoted, dated, and named once gone.
    let notes = format!("/api/projects/{project}/annotations");
    let (status, note) = auth
        .call(
            Method::POST,
            &notes,
            &carol,
            Some(json!({ "at": "2026-11-04T09:30:00Z", "content": "Launched pricing" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let note_path = format!("{notes}/{}", note["id"].as_str().expect("id"));
    let (status, _) = auth
        .call(
            Method::PUT,
            &note_path,
            &carol,
            Some(json!({ "at": "2026-11-04T09:30:00Z", "content": "Launched pricing v2" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = auth.call(Method::DELETE, &note_path, &carol, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = auth.call(Method::GET, &audit, &admin, None).await;
    let summaries: Vec<&str> = after["entries"].as_array().expect("entries")[..3]
        .iter()
        .map(|e| e["summary"].as_str().expect("summary"))
        .collect();
    assert_eq!(
        summaries,
        [
            "note on 2026-11-04 09:30 UTC deleted",
            "note on 2026-11-04 09:30 UTC changed: Launched pricing v2",
            "note on 2026-11-04 09:30 UTC added: Launched pricing",
        ]
    );

    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert_eq!(auth.dump(), live, "rebuild equals live");
    assert_eq!(auth.call(Method::GET, &audit, &admin, None).await.1, after);
}
