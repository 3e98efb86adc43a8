//! Cookieless visitor ids under a secret salt of the day, kept in JetStream KV: replicas agree
//! on a day's salt, ids of one address and agent differ across days, and salts vanish with
//! their age limit (two days; a test bucket with one second shows the limit at work).

use std::time::Duration;

use async_nats::jetstream;
use contract::streams::VISITOR_SALTS_BUCKET;
use devstack::stack::TestStack;
use ingest::enrich::visitor::{SALT_MAX_AGE, Salts, daily_visitor};
use time::{Date, Month};
use uuid::Uuid;

fn december(day: u8) -> Date {
    Date::from_calendar_date(2026, Month::December, day).expect("a date")
}

async fn jetstream_of(stack: &TestStack) -> jetstream::Context {
    jetstream::new(
        plumbing::streams::connect(stack.nats().url())
            .await
            .expect("connects"),
    )
}

const ADDRESS: &str = "203.0.113.7";
const AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_a_days_salt_and_ids_of_one_visitor_differ_across_days() {
    let stack = TestStack::builder().nats().start().expect("nats");
    // Two replicas, each with its own connection, asking for the same days at once.
    let (one, two) = (
        Salts::new(jetstream_of(&stack).await),
        Salts::new(jetstream_of(&stack).await),
    );
    let (monday, tuesday) = (december(7), december(8));
    let (a, b) = tokio::join!(one.for_day(monday), two.for_day(monday));
    let (a, b) = (a.expect("salt"), b.expect("salt"));
    assert_eq!(a, b, "both replicas use the salt the first one made");
    let (c, d) = tokio::join!(two.for_day(tuesday), one.for_day(tuesday));
    let (c, d) = (c.expect("salt"), d.expect("salt"));
    assert_eq!(c, d);
    assert_ne!(a, c, "each day has its own salt");

    let project = Uuid::now_v7();
    let on = |salt| daily_visitor(salt, project, ADDRESS, AGENT);
    assert_eq!(
        on(&a),
        on(&b),
        "one visitor is one id all day, on every replica"
    );
    assert_ne!(on(&a), on(&c), "and another id the next day");

    // A replica started later reads the stored salts rather than making new ones.
    let late = Salts::new(jetstream_of(&stack).await);
    assert_eq!(late.for_day(monday).await.expect("salt"), a);

    let js = jetstream_of(&stack).await;
    let bucket = js
        .get_key_value(VISITOR_SALTS_BUCKET)
        .await
        .expect("bucket");
    let status = bucket.status().await.expect("status");
    assert_eq!(
        status.max_age(),
        SALT_MAX_AGE,
        "every salt is deleted two days after it was made"
    );
    assert_eq!(SALT_MAX_AGE, Duration::from_secs(48 * 3600));
    assert_eq!(status.values(), 2, "one salt per day asked for");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_salt_outlives_the_buckets_age_limit() {
    let stack = TestStack::builder().nats().start().expect("nats");
    let js = jetstream_of(&stack).await;
    let salts = Salts::with_max_age(js.clone(), Duration::from_secs(1));
    let day = december(7);
    let first = salts.for_day(day).await.expect("salt");
    let bucket = js
        .get_key_value(VISITOR_SALTS_BUCKET)
        .await
        .expect("bucket");
    assert!(bucket.get("2026-12-07").await.expect("reads").is_some());
    devstack::wait::until_async("the salt to expire", Duration::from_secs(30), || async {
        bucket
            .get("2026-12-07")
            .await
            .is_ok_and(|salt| salt.is_none())
    })
    .await
    .expect("the salt is deleted past its age");
    // A replica that never saw the old salt makes a new one: the old ids cannot be recomputed.
    let fresh = Salts::with_max_age(js.clone(), Duration::from_secs(1));
    assert_ne!(fresh.for_day(day).await.expect("salt"), first);
}
