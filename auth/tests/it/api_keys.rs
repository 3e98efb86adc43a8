//! API keys: a user makes, lists and revokes their own; the key is shown once and kept as its
//! SHA-256; auth itself never takes one as a token; a user has at most 50; a disabled or
//! erased user's keys are revoked with them (an erased user's memberships end too); query's
//! usage notices become the key's last use.

use std::time::Duration;

use contract::auth::AuthEvent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::helpers::{Rebuilt, TestAuth};

const KEYS: &str = "/api/auth/api-keys";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("formats")
}

/// The key's description, as the list shows it: the answer without the key.
fn listed(created: &Value) -> Value {
    let mut view = created.clone();
    view.as_object_mut().expect("object").remove("key");
    view
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_makes_lists_and_revokes_their_own_keys_and_sees_each_key_once() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let shop = auth.project(&admin, "Shop").await;
    let blog = auth.project(&admin, "Blog").await;
    let ada = auth
        .person(&admin, &shop, "ada@example.com", Some("viewer"))
        .await;

    let (status, first) = auth
        .call(
            Method::POST,
            KEYS,
            &ada,
            Some(json!({ "name": "  nightly export ", "project_ids": [shop, shop] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let key = first["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("eak_") && key.len() == 4 + 43, "{key}");
    assert_eq!(first["prefix"], key[..12]);
    assert_eq!(first["name"], "nightly export");
    assert_eq!(first["project_ids"], json!([shop]), "duplicates dropped");
    assert_eq!(
        (&first["expires_at"], &first["last_used_at"]),
        (&Value::Null, &Value::Null)
    );
    let expires = rfc3339(OffsetDateTime::now_utc() + time::Duration::days(30));
    let (status, second) = auth
        .call(
            Method::POST,
            KEYS,
            &ada,
            Some(json!({ "name": "Metabase", "expires_at": expires })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["project_ids"], Value::Null, "every project of hers");
    assert!(second["expires_at"].is_string(), "{second}");

    // Listed newest first, never with the key; the stream holds its hash, not the key.
    let (status, list) = auth.call(Method::GET, KEYS, &ada, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["api_keys"], json!([listed(&second), listed(&first)]));
    assert!(!list.to_string().contains(&key[12..]), "{list}");
    let id: Uuid = first["id"].as_str().expect("id").parse().expect("uuid");
    let subject = contract::auth::api_key_subject(id);
    match auth.stream_messages(&subject).await.as_slice() {
        [AuthEvent::ApiKeyCreated { key_hash, .. }] => assert_eq!(*key_hash, sha256_hex(&key)),
        other => panic!("expected the key's creation, got {other:?}"),
    }

    // Auth takes no API key as a token.
    assert_eq!(auth.me(&key).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.call(Method::GET, KEYS, &key, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Refused: bad names, an empty project list, a past expiry, a project she is not in.
    let past = rfc3339(OffsetDateTime::now_utc() - time::Duration::minutes(1));
    for bad in [
        json!({ "name": "" }),
        json!({ "name": "   " }),
        json!({ "name": "x".repeat(101) }),
        json!({ "name": "tab\there" }),
        json!({ "name": "k", "project_ids": [] }),
        json!({ "name": "k", "expires_at": past }),
        json!({ "name": "k", "unknown": true }),
    ] {
        let (status, body) = auth.call(Method::POST, KEYS, &ada, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    for project in [blog.clone(), Uuid::now_v7().to_string()] {
        let (status, body) = auth
            .call(
                Method::POST,
                KEYS,
                &ada,
                Some(json!({ "name": "k", "project_ids": [shop, project] })),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(&project)
        );
    }
    let (status, _) = auth
        .call(
            Method::POST,
            KEYS,
            &admin,
            Some(json!({ "name": "k", "project_ids": [blog] })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an instance admin's key too reads only projects they are a member of"
    );

    // Someone else cannot see or revoke her keys; she revokes one, twice.
    let bob = auth.person(&admin, &shop, "bob@example.com", None).await;
    let first_path = format!("{KEYS}/{id}");
    assert_eq!(
        auth.call(Method::DELETE, &first_path, &bob, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, bobs) = auth.call(Method::GET, KEYS, &bob, None).await;
    assert_eq!(bobs["api_keys"], json!([]));
    for _ in 0..2 {
        let (status, body) = auth.call(Method::DELETE, &first_path, &ada, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    assert_eq!(
        auth.call(
            Method::DELETE,
            &format!("{KEYS}/{}", Uuid::now_v7()),
            &ada,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = auth.call(Method::GET, KEYS, &ada, None).await;
    assert_eq!(list["api_keys"], json!([listed(&second)]));
    match auth.stream_messages(&subject).await.as_slice() {
        [_, AuthEvent::ApiKeyRevoked { by, .. }] => assert_eq!(
            by.map(|by| by.to_string()),
            Some(user_id(&auth, "ada@example.com"))
        ),
        other => panic!("expected one revocation, got {other:?}"),
    }
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains("nightly export"), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");
}

/// The id of the user registered with `email`, from the projection.
fn user_id(auth: &TestAuth, email: &str) -> String {
    auth.sql(&format!("SELECT id FROM users WHERE email = '{email}'"))
}

#[tokio::test(flavor = "multi_thread")]
async fn query_s_usage_notices_become_the_key_s_last_use_to_the_minute() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("cy@example.com").await;
    let cy = auth.token("cy@example.com").await;
    let (_, created) = auth
        .call(Method::POST, KEYS, &cy, Some(json!({ "name": "notebook" })))
        .await;
    let id: Uuid = created["id"].as_str().expect("id").parse().expect("uuid");
    let nats = plumbing::streams::connect(auth.stack.nats().url())
        .await
        .expect("nats");
    let subject = contract::auth::api_key_usage_subject(id);
    for (at, payload) in [
        ("2026-12-06T10:15:30Z", "2026-12-06T10:15:30Z"),
        ("later, garbled", "not a time"),
        ("earlier", "2026-12-06T09:00:00Z"),
    ] {
        nats.publish(subject.clone(), payload.to_owned().into())
            .await
            .unwrap_or_else(|err| panic!("{at}: {err}"));
    }
    nats.flush().await.expect("flushed");
    devstack::wait::until_async("the last use recorded", Duration::from_secs(10), || async {
        let (_, list) = auth.call(Method::GET, KEYS, &cy, None).await;
        list["api_keys"][0]["last_used_at"] == "2026-12-06T10:15:00Z"
    })
    .await
    .expect("the latest use, to the minute, an earlier one and a garbled one ignored");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_or_erased_user_s_keys_are_revoked_with_them() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let admin_id: Uuid = user_id(&auth, "root@example.com").parse().expect("uuid");
    let mut keys = Vec::new();
    for email in ["dee@example.com", "eve@example.com"] {
        auth.register(email).await;
        let token = auth.token(email).await;
        let (status, created) = auth
            .call(
                Method::POST,
                KEYS,
                &token,
                Some(json!({ "name": "script" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        keys.push((token, created["id"].as_str().expect("id").to_owned()));
    }
    let dee_id = user_id(&auth, "dee@example.com");
    let (status, body) = auth
        .call(
            Method::PATCH,
            &format!("/api/admin/users/{dee_id}"),
            &admin,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (dee, dee_key) = &keys[0];
    let (_, list) = auth.call(Method::GET, KEYS, dee, None).await;
    assert_eq!(list["api_keys"], json!([]), "her key is revoked at once");
    let key_id: Uuid = dee_key.parse().expect("uuid");
    match auth
        .stream_messages(&contract::auth::api_key_subject(key_id))
        .await
        .as_slice()
    {
        [_, AuthEvent::ApiKeyRevoked { by, .. }] => assert_eq!(*by, Some(admin_id)),
        other => panic!("expected the revocation, got {other:?}"),
    }
    let (status, _) = auth
        .call(Method::POST, KEYS, dee, Some(json!({ "name": "another" })))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a disabled account makes no key"
    );

    // Eve, erased, is a member of two projects (one removed before): her key is revoked and
    // each membership ends by its own event, which query follows.
    let eve_id = user_id(&auth, "eve@example.com");
    let projects = [
        auth.project(&admin, "Shop").await,
        auth.project(&admin, "Blog").await,
        auth.project(&admin, "Old").await,
    ];
    for project in &projects {
        let (status, body) = auth
            .call(
                Method::PUT,
                &format!("/api/admin/projects/{project}/members/{eve_id}"),
                &admin,
                Some(json!({ "role": "analyst" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = auth
        .call(
            Method::DELETE,
            &format!("/api/admin/projects/{}/members/{eve_id}", projects[2]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = auth
        .call(
            Method::DELETE,
            &format!("/api/admin/users/{eve_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let eve_key: Uuid = keys[1].1.parse().expect("uuid");
    let events = auth
        .stream_messages(&contract::auth::api_key_subject(eve_key))
        .await;
    assert!(
        matches!(events.last(), Some(AuthEvent::ApiKeyRevoked { by: Some(by), .. }) if *by == admin_id),
        "{events:?}"
    );
    let eve: Uuid = eve_id.parse().expect("uuid");
    for project in &projects {
        let project: Uuid = project.parse().expect("uuid");
        let events = auth
            .stream_messages(&contract::auth::member_subject(project, eve))
            .await;
        assert!(
            matches!(events.as_slice(), [AuthEvent::MemberSet { .. }, AuthEvent::MemberRemoved { user_id, .. }] if *user_id == eve),
            "one removal per membership, none twice: {events:?}"
        );
    }
    assert_eq!(
        auth.sql("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"),
        "0"
    );
    assert_eq!(
        auth.sql(&format!(
            "SELECT count(*) FROM api_keys WHERE user_id = '{eve_id}'"
        )),
        "0"
    );
    assert_eq!(
        auth.sql(&format!(
            "SELECT count(*) FROM project_members WHERE user_id = '{eve_id}'"
        )),
        "0"
    );
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert_eq!(auth.dump(), live, "rebuild equals live");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_has_at_most_fifty_keys_not_revoked() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("fay@example.com").await;
    let fay = auth.token("fay@example.com").await;
    let mut first = None;
    for i in 0..50 {
        let (status, created) = auth
            .call(
                Method::POST,
                KEYS,
                &fay,
                Some(json!({ "name": format!("key {i}") })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {created}");
        first.get_or_insert(created["id"].as_str().expect("id").to_owned());
    }
    let (status, body) = auth
        .call(
            Method::POST,
            KEYS,
            &fay,
            Some(json!({ "name": "one more" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("at most 50 API keys"), "{message}");
    let (_, list) = auth.call(Method::GET, KEYS, &fay, None).await;
    assert_eq!(list["api_keys"].as_array().map(Vec::len), Some(50));

    // A revoked key leaves room for another.
    let first = first.expect("a key");
    let (status, _) = auth
        .call(Method::DELETE, &format!("{KEYS}/{first}"), &fay, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = auth
        .call(
            Method::POST,
            KEYS,
            &fay,
            Some(json!({ "name": "one more" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
