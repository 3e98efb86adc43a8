//! The event pipeline end to end on real servers: PostHog-format requests to ingest, JetStream,
//! the sink, rows in ClickHouse; retries counted once; bad input refused with its 4xx.

use std::time::Duration;

use crate::common::{KEY, Pipeline, gzip};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn pageview(uuid: &str, user: &str) -> Value {
    json!({
        "uuid": uuid,
        "event": "$pageview",
        "distinct_id": user,
        "timestamp": "2026-11-30T10:00:00Z",
        "properties": {
            "$current_url": "https://shop.example/products/42?ref=mail",
            "$referrer": "https://news.example.org/item",
            "$lib": "web",
            "$session_id": "s-1",
            "plan": "pro",
            "items": 3
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn posthog_bodies_of_every_shape_land_in_clickhouse_once() {
    let pipeline = Pipeline::start().await;
    let first = Uuid::now_v7().to_string();
    let batch = json!({
        "api_key": KEY,
        "sent_at": "2026-11-30T10:00:05Z",
        "batch": [pageview(&first, "alice"), pageview(&Uuid::now_v7().to_string(), "bob"),
                  { "event": "signed up", "distinct_id": "carol", "uuid": "not-a-uuid-1" }]
    });
    // posthog-js: gzip without Content-Encoding, text/plain.
    let (status, body) = pipeline
        .send("/e/", gzip(batch.to_string().as_bytes()))
        .await;
    assert_eq!(
        (status, body.clone()),
        (StatusCode::OK, json!({ "status": 1 })),
        "{body}"
    );

    // A single event with the token in its properties, on /capture (no trailing slash).
    let single = json!({ "event": "clicked", "distinct_id": "dave", "properties": { "token": KEY, "button": "buy" } });
    assert_eq!(
        pipeline
            .send("/capture", single.to_string().into_bytes())
            .await
            .0,
        StatusCode::OK
    );

    // A data=<base64> form body, as older SDKs send it.
    let form = format!(
        "data={}",
        base64::engine::general_purpose::STANDARD.encode(
            json!([{ "event": "form event", "distinct_id": "erin", "api_key": KEY }]).to_string()
        )
    );
    assert_eq!(
        pipeline.send("/batch/", form.into_bytes()).await.0,
        StatusCode::OK
    );

    pipeline.wait_for_rows(5).await;
    let row = pipeline.query(&format!(
        "SELECT event, kind, distinct_id, host, path, referrer_domain, session_id, \
         prop_values[indexOf(prop_keys, 'plan')], prop_values[indexOf(prop_keys, 'items')], toString(project_id) \
         FROM {{db}}.events WHERE event_id = toUUID('{first}') FORMAT TSV"
    ));
    assert_eq!(
        row,
        format!(
            "$pageview\tpage\talice\tshop.example\t/products/42\tnews.example.org\ts-1\tpro\t3\t{}",
            pipeline.project
        )
    );
    assert_eq!(
        pipeline.query(
            "SELECT count() FROM {db}.events WHERE prop_keys = ['button'] AND prop_values = ['buy']"
        ),
        "1",
        "the token is not stored"
    );

    // The same batch again (a client retry) and the same single event id: counted once.
    let (status, _) = pipeline
        .send("/batch", batch.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    let retry_of_first = json!({ "api_key": KEY, "batch": [pageview(&first, "alice")] });
    assert_eq!(
        pipeline
            .send("/i/v0/e/", retry_of_first.to_string().into_bytes())
            .await
            .0,
        StatusCode::OK
    );
    // The 200s came after the PubAcks, so the stream is final: the retries were dropped there
    // (same Nats-Msg-Id), and the sink has nothing new to store.
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    // The sink may have stored and let go of them already: the last sequence counts what was
    // ever accepted.
    let mut stream = js.get_stream("EVENTS").await.expect("stream");
    assert_eq!(
        stream.info().await.expect("info").state.last_sequence,
        5,
        "retries deduplicated on the stream"
    );
    pipeline.wait_for_rows(5).await;
    assert_eq!(
        pipeline.query("SELECT uniqExact(event_id) FROM {db}.events"),
        "5"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_bodies_get_their_4xx_and_ingest_keeps_working() {
    let pipeline = Pipeline::start().await;
    let event = |key: &str| {
        json!({ "api_key": key, "event": "x", "distinct_id": "u" })
            .to_string()
            .into_bytes()
    };

    let (status, body) = pipeline.send("/e/", event("ea_unknown")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
    );
    let (status, body) = pipeline.send("/e/", b"{\"api_key\": ".to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{body}"
    );
    let (status, _) = pipeline.send("/e/", vec![0xff, 0xfe, 0x00, 0x80]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "invalid UTF-8");
    let (status, body) = pipeline
        .send(
            "/e/",
            json!({ "api_key": KEY, "event": 5, "distinct_id": "u" })
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("event:"),
        "{body}"
    );
    let bomb = gzip(&vec![b' '; 21 * 1024 * 1024]);
    assert_eq!(
        pipeline.send("/batch/", bomb).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        pipeline
            .send("/batch/", vec![b' '; 2 * 1024 * 1024])
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(
        pipeline.send("/batch/", deep.into_bytes()).await.0,
        StatusCode::BAD_REQUEST
    );

    // A batch with one bad event: the others are accepted, the bad one named.
    let mixed = json!({ "api_key": KEY, "batch": [{ "event": "ok", "distinct_id": "u" }, { "event": "no id" }] });
    let (status, body) = pipeline
        .send("/batch/", mixed.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rejected"][0]["index"], 1, "{body}");
    assert_eq!(pipeline.send("/e/", event(KEY)).await.0, StatusCode::OK);
    pipeline.wait_for_rows(2).await;
}

/// Runs `devstack/sdk-clients/send.mjs` with the real SDK `sdk`.
fn send_with_sdk(pipeline: &Pipeline, sdk: &str, count: usize, prefix: &str) {
    let dir = devstack::install::sdk_clients_dir();
    assert!(
        dir.join("node_modules").exists(),
        "the SDK clients are not installed: run `cargo xtask test` (or `cargo xtask install`)"
    );
    let output = std::process::Command::new("node")
        .current_dir(&dir)
        .args([
            "send.mjs",
            sdk,
            &pipeline.ingest().url(""),
            KEY,
            &count.to_string(),
            prefix,
        ])
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{sdk} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_posthog_node_and_segment_node_sdks_deliver_every_event() {
    let pipeline = Pipeline::start().await;
    send_with_sdk(&pipeline, "posthog", 50, "ph");
    send_with_sdk(&pipeline, "segment", 50, "seg");
    pipeline.wait_for_rows(100).await;

    let summary = pipeline.query(
        "SELECT event, lib, count(), uniqExact(distinct_id), uniqExact(event_id), \
         countIf(prop_values[indexOf(prop_keys, 'index')] != '') \
         FROM {db}.events FINAL GROUP BY event, lib ORDER BY event FORMAT TSV",
    );
    assert_eq!(
        summary,
        "ph event\tposthog-node\t50\t3\t50\t50\nseg event\t@segment/analytics-node\t50\t3\t50\t50",
    );
    assert_eq!(
        pipeline.query("SELECT count() FROM {db}.events WHERE distinct_id = 'seg-user-0'"),
        "17"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn segment_routes_take_the_key_from_basic_auth_or_the_body() {
    let pipeline = Pipeline::start().await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"))
    );
    let send = |path: &str, body: Value, auth: Option<String>| {
        let mut request = pipeline.http.post(pipeline.ingest().url(path)).json(&body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move {
            let response = request.send().await.expect("answers");
            (
                response.status(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = send(
        "/v1/track",
        json!({ "userId": "u1", "event": "Order Completed", "messageId": "ajs-1" }),
        Some(basic.clone()),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "success": true })));
    let page = json!({ "anonymousId": "a1", "name": "Home", "writeKey": KEY, "context": { "page": { "url": "https://x.example/home" } } });
    assert_eq!(send("/v1/page", page, None).await.0, StatusCode::OK);
    let batch = json!({ "writeKey": KEY, "batch": [
        { "type": "identify", "userId": "u1", "traits": { "plan": "pro" }, "messageId": "ajs-2" },
        { "type": "track", "userId": "u1", "event": "Order Completed", "messageId": "ajs-1" }
    ] });
    assert_eq!(send("/v1/batch", batch, None).await.0, StatusCode::OK);
    assert_eq!(
        send("/v1/track", json!({ "userId": "u", "event": "x" }), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // ajs-1 arrived twice (track, then in the batch): one row.
    pipeline.wait_for_rows(3).await;
    assert_eq!(
        pipeline.query("SELECT kind, event, concat('[', path, ']') FROM {db}.events FINAL ORDER BY kind FORMAT TSV"),
        "identify\t$identify\t[]\npage\t$pageview\t[/home]\ntrack\tOrder Completed\t[]"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_message_goes_to_the_dlq_and_its_batch_mates_are_stored() {
    let pipeline = Pipeline::start().await;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    let subject = contract::streams::event_subject(&pipeline.project.to_string(), "track");
    let event = |name: &str| contract::event::Event {
        event_id: Uuid::now_v7(),
        project_id: pipeline.project,
        kind: contract::event::EventKind::Track,
        event: name.to_owned(),
        distinct_id: "u".to_owned(),
        user_id: None,
        session_id: None,
        timestamp: time::OffsetDateTime::now_utc(),
        received_at: time::OffsetDateTime::now_utc(),
        properties: serde_json::Map::new(),
        context: contract::event::EventContext::default(),
    };
    for payload in [
        serde_json::to_vec(&event("before")).expect("json"),
        b"{\"this is\": \"not an event\"}".to_vec(),
        serde_json::to_vec(&event("after")).expect("json"),
    ] {
        js.publish(subject.clone(), payload.into())
            .await
            .expect("publishes")
            .await
            .expect("stored");
    }
    pipeline.wait_for_rows(2).await;
    assert_eq!(pipeline.query("SELECT arrayStringConcat(groupArray(event), ',') FROM (SELECT event FROM {db}.events ORDER BY event)"), "after,before");

    let dlq = js.get_stream("EVENTS_DLQ").await.expect("dlq");
    let dead =
        devstack::wait::until_async("the poison in the DLQ", Duration::from_secs(10), || async {
            dlq.direct_get_next_for_subject(format!("dlq.events.{}", pipeline.project), None)
                .await
                .is_ok()
        })
        .await;
    assert!(dead.is_ok());
    let message = dlq
        .direct_get_next_for_subject(format!("dlq.events.{}", pipeline.project), None)
        .await
        .expect("dead letter");
    assert_eq!(&message.payload[..], b"{\"this is\": \"not an event\"}");
    let reason = message
        .headers
        .get(contract::streams::DLQ_ERROR_HEADER)
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(reason.contains("not an event"), "{reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plausible_and_umami_scripts_are_accepted_by_domain_and_by_website() {
    let pipeline = Pipeline::start().await;
    let js = async_nats::jetstream::new(
        plumbing::streams::connect(pipeline.stack.nats().url())
            .await
            .expect("nats"),
    );
    let domains = contract::auth::AuthEvent::ProjectDomainsSet {
        by: None,
        project_id: pipeline.project,
        domains: vec!["site.example".to_owned()],
        at: time::OffsetDateTime::now_utc(),
    };
    js.publish(
        contract::auth::project_subject(pipeline.project),
        serde_json::to_vec(&domains).expect("json").into(),
    )
    .await
    .expect("publishes")
    .await
    .expect("stored");
    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    let post = |path: &str, body: Value| {
        let request = pipeline
            .http
            .post(pipeline.ingest().url(path))
            .header("content-type", "text/plain")
            .header("user-agent", CHROME)
            .body(body.to_string());
        async move {
            let response = request.send().await.expect("answers");
            (response.status(), response.text().await.unwrap_or_default())
        }
    };

    // The domain list reaches ingest through the stream, within moments.
    devstack::wait::until_async("the domain to be known", Duration::from_secs(5), || async {
        pipeline
            .http
            .post(pipeline.ingest().url("/api/event"))
            .body(
                json!({ "n": "probe", "u": "https://site.example/", "d": "site.example" })
                    .to_string(),
            )
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::ACCEPTED)
    })
    .await
    .expect("domain known");
    let (status, body) = post("/api/event", json!({ "n": "pageview", "u": "https://site.example/pricing", "d": "site.example", "r": "https://www.google.com/search" })).await;
    assert_eq!((status, body.as_str()), (StatusCode::ACCEPTED, "ok"));
    let (status, _) = post(
        "/api/event",
        json!({ "n": "pageview", "u": "https://other.example/", "d": "other.example" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a domain no project lists"
    );

    let website = pipeline.project.to_string();
    let view = json!({ "type": "event", "payload": { "website": website, "hostname": "site.example", "url": "/docs", "title": "Docs", "language": "en" } });
    assert_eq!(post("/api/send", view).await.0, StatusCode::OK);
    let signup = json!({ "type": "event", "payload": { "website": website, "hostname": "site.example", "url": "/join", "name": "signup", "data": { "plan": "pro" } } });
    assert_eq!(post("/api/send", signup).await.0, StatusCode::OK);
    let unknown = json!({ "type": "event", "payload": { "website": Uuid::now_v7().to_string(), "url": "/" } });
    assert_eq!(post("/api/send", unknown).await.0, StatusCode::UNAUTHORIZED);

    pipeline.wait_for_rows(4).await;
    assert_eq!(
        pipeline.query(
            "SELECT lib, event, path, referrer_domain, browser, device_type, is_bot FROM {db}.events FINAL \
             WHERE event != 'probe' ORDER BY lib, event FORMAT TSV"
        ),
        "plausible\t$pageview\t/pricing\twww.google.com\tChrome\tDesktop\t0\n\
         umami\t$pageview\t/docs\t\tChrome\tDesktop\t0\n\
         umami\tsignup\t/join\t\tChrome\tDesktop\t0"
    );
    // One visitor all along: the same address and browser on the same day.
    assert_eq!(
        pipeline.query("SELECT uniqExact(distinct_id) FROM {db}.events WHERE event != 'probe'"),
        "1"
    );
}
