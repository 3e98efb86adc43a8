//! `person:<key>` filters and breakdowns over the dataset of `persons`: the person's resolved
//! value of a property (the latest `$set` over all their ids, else the first `$set_once`) is on
//! every event of every one of their ids.

use serde_json::json;

use crate::helpers::Stack;
use crate::persons::{counts, filter, get, post};

/// Every `op` on `person:plan` and `person:source`, in the overview, a funnel (as the scope's
/// filter and as a step's), retention and the explorer.
pub(crate) async fn filters_by_person(stack: &Stack, admin: &str, scope: &str) {
    let events_where = async |key: &str, op: &str, value: Option<&str>| {
        let path = format!("/api/query/overview?{scope}{}", filter(key, op, value));
        let overview = get(stack, admin, &path).await;
        (
            overview["figures"]["events"]["value"]
                .as_f64()
                .unwrap_or(-1.0),
            overview["figures"]["users"]["value"]
                .as_f64()
                .unwrap_or(-1.0),
        )
    };
    assert_eq!(
        events_where("person:plan", "eq", Some("pro")).await,
        (3.0, 1.0)
    );
    assert_eq!(
        events_where("person:plan", "neq", Some("pro")).await,
        (2.0, 2.0)
    );
    assert_eq!(events_where("person:plan", "set", None).await, (4.0, 2.0));
    assert_eq!(
        events_where("person:plan", "not_set", None).await,
        (1.0, 1.0)
    );
    assert_eq!(
        events_where("person:plan", "contains", Some("TE")).await,
        (1.0, 1.0)
    );
    assert_eq!(
        events_where("person:source", "eq", Some("ads")).await,
        (3.0, 1.0)
    );
    assert_eq!(
        events_where("person:source", "eq", Some("seo")).await,
        (0.0, 0.0)
    );
    assert_eq!(
        events_where("person:plan", "eq", Some("")).await,
        (1.0, 1.0)
    );

    let pro = filter("person:plan", "eq", Some("pro"));
    let steps = json!({
        "steps": [{ "event": "$pageview" }, { "event": "purchase" }],
        "window_seconds": 3600,
        "breakdown": "person:plan"
    });
    let funnel = post(
        stack,
        admin,
        &format!("/api/query/funnel?{scope}{pro}"),
        steps,
    )
    .await;
    assert_eq!(counts(&funnel), [1, 1], "converts 1 of 1: {funnel}");
    assert_eq!(funnel["steps"][1]["conversion_from_first"], json!(1.0));
    assert_eq!(funnel["breakdown"][0]["value"], json!("pro"), "{funnel}");
    let step_filtered = json!({
        "steps": [
            { "event": "$pageview", "filters": [{ "key": "person:plan", "op": "eq", "value": "pro" }] },
            { "event": "purchase" }
        ],
        "window_seconds": 3600
    });
    let funnel = post(
        stack,
        admin,
        &format!("/api/query/funnel?{scope}"),
        step_filtered,
    )
    .await;
    assert_eq!(counts(&funnel), [1, 1], "a step's person filter: {funnel}");

    let retention = post(
        stack,
        admin,
        &format!("/api/query/retention?{scope}{pro}"),
        json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "day", "periods": 3 }),
    )
    .await;
    assert_eq!(
        retention["cohorts"],
        json!([{ "start": "2026-11-02", "size": 1, "returned": [1, 1, 0], "percent": [100.0, 100.0, 0.0] }]),
        "one person: {retention}"
    );

    let explorer = get(stack, admin, &format!("/api/query/events?{scope}{pro}")).await;
    let mut who: Vec<&str> = explorer["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["distinct_id"].as_str())
        .collect();
    who.sort_unstable();
    assert_eq!(who, ["anon-1", "anon-2", "user-1"]);
}

/// `person:plan` and `person:source` as a funnel's breakdown, a top list's dimension and a
/// trends breakdown, counted and by persons.
pub(crate) async fn breaks_down_by_person(stack: &Stack, admin: &str, scope: &str) {
    let steps = json!({
        "steps": [{ "event": "$pageview" }, { "event": "purchase" }],
        "window_seconds": 3600,
        "breakdown": "person:plan"
    });
    let by_plan = post(stack, admin, &format!("/api/query/funnel?{scope}"), steps).await;
    let pro_group = by_plan["breakdown"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|group| group["value"] == "pro")
        .expect("a pro group");
    assert_eq!(counts(pro_group), [1, 1], "{by_plan}");
    let top = get(
        stack,
        admin,
        &format!("/api/query/top?{scope}&dimension=person:plan"),
    )
    .await;
    assert_eq!(
        top["values"],
        json!([
            { "value": "pro", "count": 3, "users": 1 },
            { "value": "", "count": 1, "users": 1 },
            { "value": "team", "count": 1, "users": 1 },
        ]),
        "{top}"
    );
    let trends = get(
        stack,
        admin,
        &format!("/api/query/trends?{scope}&measure=uniques&interval=week&breakdown=person:plan"),
    )
    .await;
    let mut series: Vec<(String, u64)> = trends["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| {
            (
                s["breakdown_value"].as_str().unwrap_or("?").to_owned(),
                s["total"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    series.sort();
    assert_eq!(
        series,
        [
            ("".to_owned(), 1),
            ("pro".to_owned(), 1),
            ("team".to_owned(), 1)
        ],
        "{trends}"
    );
    let counted = get(
        stack,
        admin,
        &format!("/api/query/trends?{scope}&interval=week&breakdown=person:source"),
    )
    .await;
    let ads = counted["series"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| s["breakdown_value"] == "ads")
        .expect("an ads series");
    assert_eq!(ads["total"], json!(3), "{counted}");
}
