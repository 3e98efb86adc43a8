//! Location and acquisition end to end: events of every wire format (PostHog capture, Segment,
//! the native API, the Plausible and Umami scripts) through the real ingest, with the DB-IP
//! database devstack installs, into ClickHouse; then the new dimensions through query's top
//! values, trends and filters, every statement replayed on current ClickHouse.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Stack, urlencode};

/// Sends `body` to ingest's `path`, optionally with headers; ingest takes it with `status`.
async fn send(
    stack: &Stack,
    path: &str,
    body: &Value,
    headers: &[(&str, String)],
    status: StatusCode,
) {
    let mut request = stack
        .http
        .post(stack.ingest().url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("ingest answers");
    let answered = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(answered, status, "{path}: {text}");
}

/// What ClickHouse stored for the events of `distinct_id` (or of `lib`): country, ip, channel,
/// the five campaign parameters, and whether a `$ip` property was kept.
fn stored(stack: &Stack, condition: &str) -> String {
    let (server, database) = stack.clickhouse();
    server
        .query_in(
            database,
            &format!(
                "SELECT country, ip, channel, utm_source, utm_medium, utm_campaign, utm_term, \
                 utm_content, has(prop_keys, '$ip') FROM events WHERE {condition} FORMAT TSV"
            ),
        )
        .expect("reads")
        .trim_end()
        .to_owned()
}

/// The events of every wire format, sent to the project of `key` (`project`), with `admin`'s
/// token for the native API.
async fn send_every_format(stack: &Stack, project: &str, key: &str, admin: &str) {
    let posthog = json!({ "api_key": key, "batch": [
        // posthog-node: a server event naming its user's address.
        { "event": "purchase", "distinct_id": "ph-server",
          "properties": { "$ip": "8.8.8.8", "$lib": "posthog-node" } },
        { "event": "purchase", "distinct_id": "ph-no-geoip",
          "properties": { "$ip": "8.8.8.8", "$geoip_disable": true } },
        { "event": "$pageview", "distinct_id": "ph-google",
          "properties": { "$current_url": "https://shop.example/", "$referrer": "https://www.google.com/search?q=boots" } },
        { "event": "$pageview", "distinct_id": "ph-cpc",
          "properties": { "$current_url": "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=winter&utm_term=red%20boots&utm_content=ad-1" } },
        { "event": "$pageview", "distinct_id": "ph-explicit",
          "properties": { "$current_url": "https://shop.example/?utm_source=newsletter&utm_medium=email",
                          "utm_source": "facebook", "utm_medium": "paid_social" } },
    ]});
    send(stack, "/batch/", &posthog, &[], StatusCode::OK).await;

    let segment = json!({ "writeKey": key, "batch": [
        { "type": "track", "event": "Order Completed", "userId": "seg-server", "messageId": "node-next-1-a",
          "context": { "ip": "8.8.8.8", "library": { "name": "@segment/analytics-node" } } },
        { "type": "page", "anonymousId": "seg-page", "messageId": "ajs-next-2-b",
          "context": { "page": { "url": "https://shop.example/pricing?utm_source=twitter&utm_medium=social" } } },
        { "type": "page", "anonymousId": "seg-campaign", "messageId": "ajs-next-3-c",
          "context": { "page": { "url": "https://shop.example/" },
                       "campaign": { "source": "partner", "medium": "affiliate", "name": "spring" } } },
    ]});
    send(stack, "/v1/batch", &segment, &[], StatusCode::OK).await;

    let native = json!({ "event": "$pageview", "project_id": project,
        "properties": { "$current_url": "https://shop.example/?utm_source=bing&utm_medium=cpc" } });
    send(
        stack,
        "/api/events",
        &native,
        &[("authorization", format!("Bearer {admin}"))],
        StatusCode::OK,
    )
    .await;

    // The scripts: once ingest knows the project's domain.
    let plausible = json!({ "n": "pageview", "d": "shop.example",
        "u": "https://shop.example/?utm_source=newsletter&utm_medium=email" });
    devstack::wait::until_async(
        "ingest taking the project's site",
        Duration::from_secs(30),
        || async {
            let response = stack
                .http
                .post(stack.ingest().url("/api/event"))
                .body(plausible.to_string())
                .send()
                .await
                .expect("ingest answers");
            response.status() == StatusCode::ACCEPTED
        },
    )
    .await
    .expect("the Plausible event is taken");
    let umami = json!({ "type": "event", "payload": { "website": project, "hostname": "shop.example",
        "url": "/docs?utm_source=youtube&utm_medium=video", "referrer": "" } });
    send(stack, "/api/send", &umami, &[], StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_wire_format_stores_location_campaign_and_channel_and_query_groups_by_them() {
    let logs = devstack::test::TempDir::new("query-places-sql").expect("dir");
    let sql_log = logs.path().join("statements.sql");
    let stack = Stack::start_with(Some(sql_log.clone()));
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Shop" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    let response = stack
        .http
        .put(
            stack
                .auth()
                .url(&format!("/api/admin/projects/{project}/domains")),
        )
        .bearer_auth(&admin)
        .json(&json!({ "domains": ["shop.example"] }))
        .send()
        .await
        .expect("auth answers");
    assert_eq!(response.status(), StatusCode::OK);

    send_every_format(&stack, &project, &key, &admin).await;
    devstack::wait::until("eleven events stored", Duration::from_secs(60), || {
        stored(&stack, "1").lines().count() == 11
    })
    .expect("stored");

    // The server SDKs' explicit address: located, kept anonymised, and not as a property.
    for user in ["ph-server", "seg-server"] {
        assert_eq!(
            stored(&stack, &format!("distinct_id = '{user}'")),
            "US\t8.8.8.0\t\t\t\t\t\t\t0",
            "{user}: no page, no channel"
        );
    }
    assert_eq!(
        stored(&stack, "distinct_id = 'ph-no-geoip'"),
        "\t8.8.8.0\t\t\t\t\t\t\t0",
        "$geoip_disable: no lookup, the address still anonymised"
    );
    let expected = [
        ("distinct_id = 'ph-google'", "Organic Search\t\t\t\t\t"),
        (
            "distinct_id = 'ph-cpc'",
            "Paid Search\tgoogle\tcpc\twinter\tred boots\tad-1",
        ),
        (
            "distinct_id = 'ph-explicit'",
            "Paid Social\tfacebook\tpaid_social\t\t\t",
        ),
        (
            "distinct_id = 'seg-page'",
            "Organic Social\ttwitter\tsocial\t\t\t",
        ),
        (
            "distinct_id = 'seg-campaign'",
            "Affiliates\tpartner\taffiliate\tspring\t\t",
        ),
        ("lib = 'event-analytics'", "Paid Search\tbing\tcpc\t\t\t"),
        ("lib = 'plausible'", "Email\tnewsletter\temail\t\t\t"),
        ("lib = 'umami'", "Organic Video\tyoutube\tvideo\t\t\t"),
    ];
    for (condition, acquisition) in expected {
        let row = stored(&stack, condition);
        let fields: Vec<&str> = row.split('\t').collect();
        assert_eq!(fields[2..8].join("\t"), acquisition, "{condition}: {row}");
    }

    // A day either side: the events were sent now, which may be just before midnight.
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let scope = format!(
        "project_id={project}&from={}&to={}",
        today.yesterday().expect("a day"),
        today.tomorrow().expect("a day")
    );
    answers_by_dimension(&stack, &admin, &scope).await;
    crate::current_clickhouse::same_answers_on_current_clickhouse(&stack, &sql_log);
}

/// The new dimensions through top values, a breakdown and filters.
async fn answers_by_dimension(stack: &Stack, admin: &str, scope: &str) {
    let top = |dimension: &'static str| async move {
        let (status, body) = stack
            .get(
                Some(admin),
                &format!("/api/query/top?{scope}&dimension={dimension}&limit=20"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dimension}: {body}");
        body["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| {
                (
                    v["value"].as_str().unwrap_or("?").to_owned(),
                    v["count"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let count = |values: &[(String, Value)], value: &str| {
        values
            .iter()
            .find(|(v, _)| v == value)
            .map_or(json!(0), |(_, c)| c.clone())
    };
    let countries = top("country").await;
    assert_eq!(count(&countries, "US"), json!(2), "{countries:?}");
    for dimension in ["region", "city"] {
        let places = top(dimension).await;
        assert!(
            places.iter().any(|(v, c)| !v.is_empty() && c == &json!(2)),
            "8.8.8.8 has a {dimension}: {places:?}"
        );
    }
    let channels = top("channel").await;
    for (channel, n) in [
        ("Paid Search", 2),
        ("Organic Search", 1),
        ("Paid Social", 1),
        ("Organic Social", 1),
        ("Affiliates", 1),
        ("Email", 1),
        ("Organic Video", 1),
        ("", 3),
    ] {
        assert_eq!(
            count(&channels, channel),
            json!(n),
            "{channel}: {channels:?}"
        );
    }
    for (dimension, value, n) in [
        ("utm_source", "google", 1),
        ("utm_medium", "cpc", 2),
        ("utm_campaign", "winter", 1),
        ("utm_term", "red boots", 1),
        ("utm_content", "ad-1", 1),
    ] {
        let values = top(dimension).await;
        assert_eq!(count(&values, value), json!(n), "{dimension}: {values:?}");
    }

    let filtered = |filter: Value| async move {
        let (status, body) = stack
            .get(
                Some(admin),
                &format!(
                    "/api/query/overview?{scope}&filter={}",
                    urlencode(&filter.to_string())
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["figures"]["events"]["value"].as_f64()
    };
    assert_eq!(
        filtered(json!([{ "key": "country", "op": "eq", "value": "US" }])).await,
        Some(2.0)
    );
    assert_eq!(
        filtered(json!([{ "key": "channel", "op": "eq", "value": "Paid Search" }])).await,
        Some(2.0)
    );
    let (status, trends) = stack
        .get(
            Some(admin),
            &format!("/api/query/trends?{scope}&interval=day&breakdown=channel&limit=20"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{trends}");
    let paid = trends["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|series| series["label"] == "Paid Search")
        .expect("a Paid Search series");
    assert_eq!(paid["total"].as_f64(), Some(2.0), "{paid}");
}
