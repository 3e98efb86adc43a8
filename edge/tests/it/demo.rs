//! `cargo xtask demo` against the whole stack: the traffic it makes up goes in through edge's
//! public SDK routes, every event it counts as sent is in ClickHouse, and the analytics API sees
//! weeks of history and a shop funnel that loses people at every step.

use std::time::Duration;

use devstack::demo::{FUNNEL, Options, Plan, run};
use devstack::stack::{ADMIN, PASSWORD, TestStack};

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_sends_weeks_of_traffic_that_all_arrive_with_a_funnel_narrowing_at_every_step()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let options = Options {
        url: edge.url(""),
        email: ADMIN.to_owned(),
        password: PASSWORD.to_owned(),
        plan: Plan {
            visitors: 120,
            seed: 7,
            ..Plan::default()
        },
        batch_size: 500,
        progress: false,
    };
    let summary = run(&options).await?;
    assert!(summary.requests > 1, "{summary:?}");

    // Every event the demo counts as sent is stored, once.
    let project = contract::BUILTIN_PROJECT_ID;
    let count = |sql: &str| stack.clickhouse_sql(sql).map(|rows| rows.trim().to_owned());
    let rows = format!("SELECT count() FROM events FINAL WHERE project_id = '{project}'");
    let mut stored = String::new();
    devstack::wait::until("every demo event stored", Duration::from_secs(60), || {
        stored = count(&rows).unwrap_or_default();
        stored == summary.events.to_string()
    })
    .map_err(|err| anyhow::anyhow!("{err}: {stored} of {} rows", summary.events))?;
    let days = count(&format!(
        "SELECT uniqExact(toDate(timestamp)) FROM events WHERE project_id = '{project}'"
    ))?;
    assert!(days.parse::<u32>()? > 14, "events on {days} days");
    let orders_through_segment = count(&format!(
        "SELECT count() FROM events WHERE project_id = '{project}' \
         AND event = 'order_completed' AND lib = 'analytics-node'"
    ))?;
    assert!(orders_through_segment.parse::<u32>()? > 0);

    // The analytics API sees the funnel narrow at each of its four steps.
    let token =
        devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, Duration::from_secs(30))?;
    let (from, to) = summary
        .first
        .zip(summary.last)
        .map(|(first, last)| (first.date(), last.date()))
        .ok_or_else(|| anyhow::anyhow!("the demo sent no event"))?;
    let funnel: serde_json::Value = reqwest::Client::new()
        .post(edge.url(&format!(
            "/api/query/funnel?project_id={project}&from={from}&to={to}"
        )))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "steps": FUNNEL.map(|event| serde_json::json!({ "event": event })),
            "window_seconds": 86_400
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let counts: Vec<u64> = funnel["steps"]
        .as_array()
        .map(|steps| steps.iter().filter_map(|s| s["count"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(counts.len(), 4, "{funnel}");
    assert!(
        counts.windows(2).all(|pair| pair[0] > pair[1]) && counts[3] > 0,
        "{counts:?}"
    );
    Ok(())
}
