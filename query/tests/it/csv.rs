//! `format=csv`: every analysis answers the same figures as a `text/csv` download, text that a
//! spreadsheet would run as a formula does not run, and the explorer's CSV streams every
//! matching event.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::Stack;

/// An RFC 4180 table: its rows, each a list of fields.
fn parse(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// The answer to `path` (a POST of `body` when given) as JSON and as CSV (the header row
/// first).
async fn both(
    stack: &Stack,
    admin: &str,
    path: &str,
    body: Option<&Value>,
) -> (Value, Vec<Vec<String>>) {
    let send = |path: String| {
        let request = match body {
            Some(body) => stack.http.post(stack.query().url(&path)).json(body),
            None => stack.http.get(stack.query().url(&path)),
        };
        request.bearer_auth(admin).send()
    };
    let json = send(path.to_owned()).await.expect("answers");
    assert_eq!(json.status(), StatusCode::OK, "{path}");
    let json: Value = json.json().await.expect("json");
    let csv = send(format!("{path}&format=csv")).await.expect("answers");
    assert_eq!(csv.status(), StatusCode::OK, "{path} as CSV");
    let headers = csv.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap_or_default();
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    (json, parse(&csv.text().await.expect("text")))
}

fn number(value: &Value) -> String {
    value.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_analysis_as_csv_holds_what_its_json_holds_and_runs_no_formula() {
    let stack = Stack::start_with(None);
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "CSV", "timezone": "UTC" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    let key = created["write_key"].as_str().expect("write key").to_owned();
    let evil = "=HYPERLINK(\"https://evil.example\",\"click\"), then more";
    let mut batch = Vec::new();
    for (who, day) in [("ann", 2), ("bob", 2), ("cat", 3), ("ann", 4)] {
        let at = format!("2026-10-0{day}T10:00:00Z");
        batch.push(
            json!({ "event": "$pageview", "distinct_id": who, "timestamp": at,
            "properties": { "$current_url": "https://shop.example/pricing" } }),
        );
        batch.push(json!({ "event": "signup", "distinct_id": who, "timestamp": at }));
    }
    batch.push(json!({ "event": evil, "distinct_id": "dan", "timestamp": "2026-10-03T11:00:00Z" }));
    stack.send_batch(&key, &batch).await;
    let scope = format!("project_id={project}&from=2026-10-01&to=2026-10-07");
    devstack::wait::until_async("the events stored", Duration::from_secs(60), || async {
        let (_, body) = stack
            .get(Some(&admin), &format!("/api/query/overview?{scope}"))
            .await;
        body["figures"]["events"]["value"].as_f64() == Some(batch.len() as f64)
    })
    .await
    .expect("stored");

    // Top values: one row per value; the formula is text.
    let (top, rows) = both(
        &stack,
        &admin,
        &format!("/api/query/top?{scope}&dimension=event"),
        None,
    )
    .await;
    assert_eq!(rows[0], ["value", "count", "users"]);
    let values = top["values"].as_array().expect("values");
    assert_eq!(rows.len(), values.len() + 1);
    for (row, value) in rows[1..].iter().zip(values) {
        let name = value["value"].as_str().unwrap_or_default();
        let shown = if name.starts_with('=') {
            format!("'{name}")
        } else {
            name.to_owned()
        };
        assert_eq!(
            row,
            &[shown, number(&value["count"]), number(&value["users"])]
        );
    }
    assert!(
        rows.iter().any(|row| row[0] == format!("'{evil}")),
        "{rows:?}"
    );

    // Trends: one row per point of each series.
    let (trends, rows) = both(
        &stack,
        &admin,
        &format!("/api/query/trends?{scope}&interval=day"),
        None,
    )
    .await;
    assert_eq!(
        rows[0],
        ["period", "series", "breakdown_value", "t", "value"]
    );
    let points: Vec<Vec<String>> = trends["series"]
        .as_array()
        .expect("series")
        .iter()
        .flat_map(|series| {
            series["points"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |point| {
                    vec![
                        "current".to_owned(),
                        series["label"].as_str().unwrap_or_default().to_owned(),
                        series["breakdown_value"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        point["t"].as_str().unwrap_or_default().to_owned(),
                        number(&point["value"]),
                    ]
                })
        })
        .collect();
    assert_eq!(rows[1..].to_vec(), points);
    assert_eq!(points.len(), 7, "a point per day");

    // Funnel: one row per step.
    let funnel_request = json!({ "steps": [{ "event": "$pageview" }, { "event": "signup" }], "window_seconds": 3600 });
    let (funnel, rows) = both(
        &stack,
        &admin,
        &format!("/api/query/funnel?{scope}"),
        Some(&funnel_request),
    )
    .await;
    assert_eq!(
        rows[0],
        [
            "breakdown_value",
            "step",
            "event",
            "count",
            "conversion_from_first",
            "conversion_from_previous"
        ]
    );
    let steps: Vec<Vec<String>> = funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
        .map(|(index, step)| {
            vec![
                String::new(),
                (index + 1).to_string(),
                step["event"].as_str().unwrap_or_default().to_owned(),
                number(&step["count"]),
                number(&step["conversion_from_first"]),
                number(&step["conversion_from_previous"]),
            ]
        })
        .collect();
    assert_eq!(rows[1..].to_vec(), steps);
    assert_eq!(rows[2][3], "3", "three people signed up");

    // Retention: one row per cohort and period.
    let retention_request = json!({ "start_event": "$pageview", "return_event": "$pageview", "period": "day", "periods": 3 });
    let (retention, rows) = both(
        &stack,
        &admin,
        &format!("/api/query/retention?{scope}"),
        Some(&retention_request),
    )
    .await;
    assert_eq!(rows[0], ["cohort", "size", "period", "returned", "percent"]);
    let cells: Vec<Vec<String>> = retention["cohorts"]
        .as_array()
        .expect("cohorts")
        .iter()
        .flat_map(|cohort| {
            let returned = cohort["returned"].as_array().cloned().unwrap_or_default();
            let percent = cohort["percent"].as_array().cloned().unwrap_or_default();
            returned
                .into_iter()
                .zip(percent)
                .enumerate()
                .map(move |(period, (back, share))| {
                    vec![
                        cohort["start"].as_str().unwrap_or_default().to_owned(),
                        number(&cohort["size"]),
                        period.to_string(),
                        number(&back),
                        number(&share),
                    ]
                })
        })
        .collect();
    assert_eq!(rows[1..].to_vec(), cells);
    assert!(!cells.is_empty());

    // Another format is refused with a JSON error.
    let (status, body) = stack
        .get(Some(&admin), &format!("/api/query/top?{scope}&format=xml"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["message"], "format must be json or csv");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorers_csv_streams_every_one_of_a_hundred_thousand_events() {
    let stack = Stack::start_with(None);
    let admin = stack.token("admin@example.com");
    let created = stack
        .create_project(&admin, json!({ "name": "Export", "timezone": "UTC" }))
        .await;
    let project = created["id"].as_str().expect("project id").to_owned();
    // Stored as the sink stores them, without the round trip through ingest.
    let (server, database) = stack.clickhouse();
    server
        .query_in(
            database,
            &format!(
                "INSERT INTO events (project_id, date, timestamp, event, event_id, distinct_id, \
                 path, prop_keys, prop_values) SELECT toUUID('{project}'), \
                 toDate(toDateTime(1791072000 + number % 500000, 'UTC')), \
                 toDateTime(1791072000 + number % 500000, 'UTC'), \
                 if(number % 10 = 0, 'signup', '$pageview'), generateUUIDv4(), \
                 concat('user-', toString(number % 997)), '/p', ['plan'], ['pro, \"gold\"'] \
                 FROM system.numbers LIMIT 100000"
            ),
        )
        .expect("events stored");
    let path =
        format!("/api/query/events?project_id={project}&from=2026-10-01&to=2026-10-31&format=csv");
    let mut response = stack
        .http
        .get(stack.query().url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed, not sized in advance: {:?}",
        response.headers()
    );
    // Read as it comes, counting lines and pieces, keeping only the first lines.
    let (mut lines, mut pieces, mut head) = (0_usize, 0_usize, String::new());
    while let Some(piece) = response.chunk().await.expect("a piece") {
        pieces += 1;
        lines += piece.iter().filter(|byte| **byte == b'\n').count();
        if head.len() < 2_000 {
            head.push_str(&String::from_utf8_lossy(&piece));
        }
    }
    assert_eq!(lines, 100_001, "a header and every event");
    assert!(pieces > 1, "in pieces as ClickHouse sends them");
    let rows = parse(&head);
    assert_eq!(rows[0][..3], ["timestamp", "event", "distinct_id"]);
    assert_eq!(
        rows[1][17], "{\"plan\":\"pro, \\\"gold\\\"\"}",
        "{:?}",
        rows[1]
    );
    // With a name, only that event's: a tenth of them.
    let signups = stack
        .http
        .get(stack.query().url(&format!("{path}&event=signup&limit=5")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(signups.status(), StatusCode::OK);
    let signups = signups.text().await.expect("text");
    assert_eq!(
        signups.lines().count(),
        10_001,
        "every signup, the limit left aside"
    );
}
