//! Identity links against real NATS: PostHog's `$identify` with `$anon_distinct_id` and
//! `$create_alias`, Segment's `identify` with `anonymousId` and `userId` and `alias` with
//! `previousId` each put one link on `PERSONS` beside the event, under a message id derived
//! from the event's, so a client's retry adds no second link; other events link nothing.

use async_nats::jetstream;
use base64::Engine as _;
use contract::auth::AuthEvent;
use contract::persons::Link;
use devstack::stack::TestStack;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::common::{prepared, publish};

/// Every message on `PERSONS`: its subject, message id and link.
async fn links(js: &jetstream::Context) -> Vec<(String, String, Link)> {
    let stream = js.get_stream("PERSONS").await.expect("PERSONS");
    let last = stream.get_info().await.expect("info").state.last_sequence;
    let mut links = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let id = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default();
        let link = serde_json::from_slice(&message.payload).expect("a link");
        links.push((message.subject.to_string(), id, link));
    }
    links
}

async fn events_stored(js: &jetstream::Context) -> u64 {
    let mut stream = js.get_stream("EVENTS").await.expect("EVENTS");
    stream.info().await.expect("info").state.messages
}

#[tokio::test(flavor = "multi_thread")]
async fn identifying_events_put_one_link_each_on_persons_and_a_retry_adds_none() {
    let (mut stack, js) = prepared(TestStack::builder().ingest()).await;
    let project = Uuid::now_v7();
    let issued = AuthEvent::WriteKeyIssued {
        by: None,
        project_id: project,
        key_id: Uuid::now_v7(),
        key: "ea_links".to_owned(),
        at: OffsetDateTime::now_utc(),
    };
    publish(&js, &issued, project).await;
    stack.start_services().expect("ingest starts");
    let ingest = stack.ingest();
    let http = reqwest::Client::new();

    let (identify, alias) = (Uuid::now_v7(), Uuid::now_v7());
    let posthog = json!({ "api_key": "ea_links", "batch": [
        { "event": "$pageview", "distinct_id": "anon-1", "uuid": Uuid::now_v7(),
          "properties": { "$anon_distinct_id": "anon-0" } },
        { "event": "$identify", "distinct_id": "user-1", "uuid": identify,
          "properties": { "$anon_distinct_id": "anon-1", "$set": { "plan": "pro" } } },
        { "event": "$create_alias", "distinct_id": "user-1", "uuid": alias,
          "properties": { "alias": "anon-2" } },
        { "event": "$identify", "distinct_id": "user-1", "uuid": Uuid::now_v7(),
          "properties": { "$anon_distinct_id": "user-1" } },
    ] });
    for _ in 0..2 {
        let answer = http
            .post(ingest.url("/batch/"))
            .json(&posthog)
            .send()
            .await
            .expect("answers");
        assert_eq!(
            answer.status(),
            200,
            "a retry of the whole batch is answered alike"
        );
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ea_links:")
    );
    let segment = json!({ "batch": [
        { "type": "identify", "userId": "user-2", "anonymousId": "anon-3",
          "traits": { "plan": "team" }, "messageId": "ajs-identify" },
        { "type": "alias", "userId": "user-2", "previousId": "anon-4", "messageId": "ajs-alias" },
        { "type": "identify", "userId": "user-2", "anonymousId": "user-2", "messageId": "ajs-same" },
    ] });
    let answer = http
        .post(ingest.url("/v1/batch"))
        .header("authorization", basic)
        .json(&segment)
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), 200);

    assert_eq!(events_stored(&js).await, 7, "every event once");
    let subject = format!("persons.{project}.link");
    let segment_id = |id: &str| Uuid::new_v5(&project, id.as_bytes());
    let found: Vec<_> = links(&js)
        .await
        .into_iter()
        .map(|(on, id, link)| {
            assert_eq!((on.as_str(), link.project_id), (subject.as_str(), project));
            assert_eq!(id, Link::message_id(link.event_id).to_string());
            (link.distinct_id, link.other_id, link.event_id)
        })
        .collect();
    let link = |a: &str, b: &str, event: Uuid| (a.to_owned(), b.to_owned(), event);
    assert_eq!(
        found,
        [
            link("user-1", "anon-1", identify),
            link("user-1", "anon-2", alias),
            link("user-2", "anon-3", segment_id("ajs-identify")),
            link("user-2", "anon-4", segment_id("ajs-alias")),
        ],
        "one link per identifying event, none for the retry"
    );
}

/// What a link looks like on the stream, as `nats stream view PERSONS` shows it.
#[test]
fn a_link_is_readable_json() {
    let link = Link {
        project_id: Uuid::nil(),
        distinct_id: "user-1".to_owned(),
        other_id: "anon-1".to_owned(),
        event_id: Uuid::nil(),
        timestamp: OffsetDateTime::UNIX_EPOCH,
    };
    let json: Value = serde_json::to_value(&link).expect("json");
    assert_eq!(
        json,
        json!({
            "project_id": Uuid::nil(), "distinct_id": "user-1", "other_id": "anon-1",
            "event_id": Uuid::nil(), "timestamp": "1970-01-01T00:00:00Z"
        })
    );
}
