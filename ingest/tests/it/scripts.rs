//! The script routes (Umami's `/api/send`, Plausible's `/api/event`) are opt-in: a project
//! takes their events only once its admin listed the site's domains, and only from pages on
//! those domains or their subdomains. Refused events are not stored.

use std::time::Duration;

use contract::auth::AuthEvent;
use devstack::stack::TestStack;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{prepared, publish};

fn created(project_id: Uuid) -> AuthEvent {
    AuthEvent::ProjectCreated {
        project_id,
        name: "site".to_owned(),
        timezone: "UTC".to_owned(),
        by: None,
        at: OffsetDateTime::now_utc(),
    }
}

/// Umami's body for a page view of `path` on `hostname`, for `website`.
fn umami(website: Uuid, hostname: &str, path: &str) -> Value {
    json!({ "type": "event", "payload": { "website": website.to_string(), "hostname": hostname, "url": path, "title": "Docs" } })
}

#[tokio::test(flavor = "multi_thread")]
async fn script_events_are_stored_only_for_a_listed_domain_and_its_subdomains() {
    let (mut stack, js) = prepared(TestStack::builder().ingest()).await;
    let project = Uuid::now_v7();
    publish(&js, &created(project), project).await;
    let builtin = contract::BUILTIN_PROJECT_ID;
    publish(&js, &created(builtin), builtin).await;
    stack.start_services().expect("ingest starts");
    let ingest = stack.ingest();

    let http = reqwest::Client::new();
    let post = |path: &str, body: &Value| {
        let request = http
            .post(ingest.url(path))
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send();
        async move {
            let response = request.await.expect("answers");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };
    let stored = || async {
        let mut stream = js.get_stream("EVENTS").await.expect("stream");
        stream.info().await.expect("info").state.messages
    };

    // No domains listed: the project id alone, or the built-in project's constant, is refused.
    for website in [project, builtin] {
        let (status, body) = post("/api/send", &umami(website, "site.example", "/docs")).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "forbidden", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("no site domains")),
            "{body}"
        );
    }
    let plausible = json!({ "n": "pageview", "u": "https://site.example/", "d": "site.example" });
    assert_eq!(
        post("/api/event", &plausible).await.0,
        401,
        "no project lists the domain yet"
    );
    assert_eq!(stored().await, 0, "nothing refused is stored");

    let domains = AuthEvent::ProjectDomainsSet {
        by: None,
        project_id: project,
        domains: vec!["site.example".to_owned()],
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &domains, project).await;
    // Until the list reaches ingest, these are refused and store nothing; the first accepted
    // one is stored.
    devstack::wait::until_async(
        "the domain to be listed",
        Duration::from_secs(10),
        || async {
            post("/api/send", &umami(project, "site.example", "/docs"))
                .await
                .0
                == 200
        },
    )
    .await
    .expect("accepted once listed");
    assert_eq!(stored().await, 1);

    let (status, body) = post("/api/send", &umami(project, "evil.example", "/docs")).await;
    assert_eq!(status, 403, "a host not listed: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("evil.example")),
        "{body}"
    );
    assert_eq!(
        post("/api/send", &umami(project, "notsite.example", "/"))
            .await
            .0,
        403,
        "a name that only ends like the domain"
    );
    assert_eq!(
        post("/api/send", &umami(builtin, "site.example", "/"))
            .await
            .0,
        403,
        "another project's domain"
    );
    assert_eq!(
        post("/api/send", &umami(project, "www.site.example", "/pricing"))
            .await
            .0,
        200,
        "a subdomain"
    );

    let from = |url: &str| json!({ "n": "pageview", "u": url, "d": "site.example" });
    let (status, body) = post("/api/event", &from("https://evil.example/pricing")).await;
    assert_eq!(status, 403, "Plausible from a host not listed: {body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    assert_eq!(
        post("/api/event", &from("https://www.site.example/pricing"))
            .await
            .0,
        202
    );
    assert_eq!(stored().await, 3, "the three accepted events, nothing else");

    let events = js.get_stream("EVENTS").await.expect("stream");
    let subjects: Vec<String> = futures_util::future::join_all((1..=3).map(|sequence| {
        let events = &events;
        async move {
            events
                .get_raw_message(sequence)
                .await
                .expect("message")
                .subject
                .to_string()
        }
    }))
    .await;
    assert!(
        subjects
            .iter()
            .all(|subject| *subject == format!("events.{project}.page")),
        "{subjects:?}"
    );
}
