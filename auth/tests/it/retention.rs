//! A project's own retention: set by its admins, shown in the admin project list and in the
//! project as its admins read it, and copied into the key-value bucket the sink's retention job
//! reads (again by a rebuild).

use std::time::Duration;

use async_nats::jetstream::kv;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Rebuilt, TestAuth};

/// What the bucket holds for `project`: its months as text, `None` without a key.
async fn held(auth: &TestAuth, project: &str) -> Option<String> {
    let store = auth
        .js()
        .await
        .get_key_value(contract::auth::RETENTION_BUCKET)
        .await
        .ok()?;
    store
        .entry(project)
        .await
        .ok()
        .flatten()
        .filter(|entry| entry.operation == kv::Operation::Put)
        .map(|entry| String::from_utf8_lossy(&entry.value).into_owned())
}

/// Waits until the bucket holds `wanted` for `project`.
async fn until_held(auth: &TestAuth, project: &str, wanted: Option<&str>) {
    devstack::wait::until_async(
        "the retention bucket follows",
        Duration::from_secs(15),
        || async { held(auth, project).await.as_deref() == wanted },
    )
    .await
    .unwrap_or_else(|_| panic!("the bucket holds {wanted:?} for {project}"));
}

/// The retention the admin project list shows for `project`.
async fn listed(auth: &TestAuth, admin: &str, project: &str) -> Value {
    let (_, projects) = auth
        .call(Method::GET, "/api/admin/projects", admin, None)
        .await;
    projects["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .find(|p| p["id"] == project)
        .map(|p| p["retention_months"].clone())
        .expect("listed")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projects_retention_is_listed_and_written_to_the_bucket_the_sink_reads() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let project = auth.project(&admin, "Kept").await;
    let other = auth.project(&admin, "Default").await;
    let pam = auth
        .person(&admin, &project, "pam@example.com", Some("admin"))
        .await;
    let viewer = auth
        .person(&admin, &project, "vic@example.com", Some("viewer"))
        .await;
    let outsider = auth.person(&admin, &project, "out@example.com", None).await;
    let retention = format!("/api/admin/projects/{project}/retention");
    assert_eq!(listed(&auth, &admin, &project).await, Value::Null);

    let (status, set) = auth
        .call(Method::PUT, &retention, &pam, Some(json!({ "months": 13 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set, json!({ "months": 13 }));
    assert_eq!(listed(&auth, &admin, &project).await, json!(13));
    until_held(&auth, &project, Some("13")).await;

    // The project's admin reads their project (keys, domains, retention); no one else below.
    let one = format!("/api/admin/projects/{project}");
    let (status, read) = auth.call(Method::GET, &one, &pam, None).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["retention_months"], json!(13));
    assert_eq!(read["keys"].as_array().map(Vec::len), Some(1), "{read}");
    assert_eq!(
        auth.call(Method::GET, &one, &viewer, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auth.call(Method::GET, &one, &outsider, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(held(&auth, &other).await, None, "no key: the instance's");

    for bad in [
        json!({ "months": 0 }),
        json!({ "months": 121 }),
        json!({ "months": -1 }),
        json!({ "months": "13" }),
        json!({ "months": 12, "days": 3 }),
    ] {
        let (status, body) = auth
            .call(Method::PUT, &retention, &pam, Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = auth
        .call(
            Method::PUT,
            &retention,
            &viewer,
            Some(json!({ "months": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = auth
        .call(
            Method::PUT,
            &retention,
            &outsider,
            Some(json!({ "months": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(listed(&auth, &admin, &project).await, json!(13));

    // Null is the instance's retention again: the key goes.
    let (status, set) = auth
        .call(
            Method::PUT,
            &retention,
            &admin,
            Some(json!({ "months": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set, json!({ "months": null }));
    assert_eq!(listed(&auth, &admin, &project).await, Value::Null);
    until_held(&auth, &project, None).await;

    // A rebuild writes the bucket again from the stream.
    let (status, _) = auth
        .call(Method::PUT, &retention, &pam, Some(json!({ "months": 24 })))
        .await;
    assert_eq!(status, StatusCode::OK);
    until_held(&auth, &project, Some("24")).await;
    auth.js()
        .await
        .get_key_value(contract::auth::RETENTION_BUCKET)
        .await
        .expect("bucket")
        .purge(&project)
        .await
        .expect("purged");
    assert_eq!(held(&auth, &project).await, None);
    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert_eq!(auth.dump(), live, "rebuild equals live");
    assert_eq!(held(&auth, &project).await.as_deref(), Some("24"));
    assert_eq!(listed(&auth, &admin, &project).await, json!(24));
}
