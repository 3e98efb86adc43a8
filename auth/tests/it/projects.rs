//! Projects: write keys, domains and a project's own quota.

use contract::auth::AuthEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestAuth};

#[tokio::test(flavor = "multi_thread")]
async fn projects_get_write_keys_that_can_be_added_and_revoked() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (status, project) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Shop", "timezone": "Europe/Paris" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    assert_eq!(project["timezone"], "Europe/Paris");
    let first_key = project["write_key"].as_str().expect("write key").to_owned();
    assert!(
        first_key.starts_with("ea_") && first_key.len() > 30,
        "{first_key}"
    );
    let id = project["id"].as_str().expect("id").to_owned();

    let (status, second) = auth
        .call(
            reqwest::Method::POST,
            &format!("/api/admin/projects/{id}/keys"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][0]["id"],
        contract::BUILTIN_PROJECT_ID.to_string(),
        "the built-in project exists from the start"
    );
    let keys = listed["projects"][1]["keys"]
        .as_array()
        .expect("keys")
        .clone();
    assert_eq!(keys.len(), 2, "{listed}");
    let first_id = keys[0]["id"].as_str().expect("key id").to_owned();
    assert_eq!(keys[0]["key"], first_key.as_str());

    let (status, _) = auth
        .call(
            reqwest::Method::DELETE,
            &format!("/api/admin/projects/{id}/keys/{first_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(listed["projects"][1]["keys"], json!([second.clone()]));

    let (status, domains) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{id}/domains"),
            &admin,
            Some(json!({ "domains": ["Shop.Example.", "shop.example", "www.shop.example"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{domains}");
    assert_eq!(
        domains["domains"],
        json!(["shop.example", "www.shop.example"])
    );
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][1]["domains"],
        json!(["shop.example", "www.shop.example"])
    );
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{id}/domains"),
            &admin,
            Some(json!({ "domains": ["not a domain/"] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Another project may not take a domain this one lists: its Plausible events would go there.
    let (_, other) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Other" })),
        )
        .await;
    let other = other["id"].as_str().expect("id").to_owned();
    let (status, body) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{other}/domains"),
            &admin,
            Some(json!({ "domains": ["other.example", "WWW.shop.example"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("www.shop.example")),
        "{body}"
    );

    let (status, body) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Bad", "timezone": "Mars; DROP TABLE" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_sets_a_projects_own_quota_which_is_published_and_listed() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, project) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Busy" })),
        )
        .await;
    let id = project["id"].as_str().expect("id").to_owned();
    let quota_path = format!("/api/admin/projects/{id}/quota");

    let (status, set) = auth
        .call(
            reqwest::Method::PUT,
            &quota_path,
            &admin,
            Some(json!({ "events_per_second": 50, "bytes_per_second": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        set,
        json!({ "id": id, "events_per_second": 50, "bytes_per_second": null })
    );
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][1]["quota"],
        json!({ "events_per_second": 50, "bytes_per_second": null }),
        "{listed}"
    );
    assert_eq!(
        listed["projects"][0]["quota"],
        json!({ "events_per_second": null, "bytes_per_second": null }),
        "the built-in project keeps the defaults"
    );
    // What ingest follows: the event on the project's subject.
    let stored = auth
        .js()
        .await
        .get_stream("AUTH")
        .await
        .expect("stream")
        .get_last_raw_message_by_subject(&format!("auth.project.{id}"))
        .await
        .expect("the quota event");
    let event: AuthEvent = serde_json::from_slice(&stored.payload).expect("an auth event");
    assert!(
        matches!(
            event,
            AuthEvent::ProjectQuotaSet {
                events_per_second: Some(50),
                bytes_per_second: None,
                by: Some(_),
                ..
            }
        ),
        "{event:?}"
    );

    for (body, code) in [
        (json!({ "events_per_second": 0 }), "bad_request"),
        (json!({ "bytes_per_second": -5 }), "invalid_json"),
        (json!({ "events_per_second": "many" }), "invalid_json"),
    ] {
        let (status, error) = auth
            .call(
                reqwest::Method::PUT,
                &quota_path,
                &admin,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{}/quota", Uuid::now_v7()),
            &admin,
            Some(json!({ "events_per_second": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    auth.register("user@example.com").await;
    let (_, session) = auth.login("user@example.com", PASSWORD).await;
    let user = session["access_token"].as_str().expect("token").to_owned();
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &quota_path,
            &user,
            Some(json!({ "events_per_second": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The route and its body are in the API description edge merges.
    let document: Value = auth
        .http
        .get(auth.service().url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let operation = &document["paths"]["/api/admin/projects/{id}/quota"]["put"];
    assert!(operation["responses"]["200"].is_object(), "{operation}");
    assert!(
        document["components"]["schemas"]["ProjectQuota"]["properties"]["events_per_second"]
            .is_object(),
        "{}",
        document["components"]["schemas"]
    );

    // Both null: back to the defaults.
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &quota_path,
            &admin,
            Some(json!({ "events_per_second": null, "bytes_per_second": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][1]["quota"],
        json!({ "events_per_second": null, "bytes_per_second": null })
    );
}
