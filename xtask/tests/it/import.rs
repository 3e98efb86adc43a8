//! `cargo xtask import` against real NATS, ClickHouse and sink: a 100 000-event file of each
//! format lands exactly once with its ids, names, people, times and properties; an import
//! killed half way and run again, and a second import after a sink restart, add nothing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use devstack::stack::{Service, TestStack};
use uuid::Uuid;

const EVENTS: usize = 100_000;

/// One generated export, with what three of its rows must become.
struct Export {
    format: &'static str,
    file: PathBuf,
    /// Event id, then the expected `event`, `distinct_id`, `timestamp` and `plan` property.
    samples: Vec<(Uuid, [String; 4])>,
}

/// Event `i`'s fields: name, person, time (a whole second, in 2023), plan.
fn fields(i: usize) -> (String, String, String, String) {
    let at =
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_672_531_200 + (i as i64) * 97);
    (
        format!("event {}", i % 7),
        format!("person-{}", i % 5000),
        format!(
            "{} {:02}:{:02}:{:02}",
            at.date(),
            at.hour(),
            at.minute(),
            at.second()
        ),
        format!("plan-{}", i % 3),
    )
}

fn generate(dir: &Path, format: &'static str) -> Export {
    let mut text = String::with_capacity(EVENTS * 300);
    let mut samples = Vec::new();
    let (name, file) = match format {
        "posthog" => ("posthog", dir.join("posthog.jsonl")),
        "segment" => ("segment", dir.join("segment.jsonl")),
        _ => ("umami", dir.join("website_event.csv")),
    };
    if name == "umami" {
        text.push_str(
            "website_id,session_id,visit_id,event_id,created_at,url_path,url_query,\
             referrer_domain,page_title,event_type,event_name,hostname,browser,country\n",
        );
    }
    for i in 0..EVENTS {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{name}-{i}").as_bytes());
        let (event, person, at, plan) = fields(i);
        let iso = at.replace(' ', "T") + "Z";
        match name {
            "posthog" => {
                let line = serde_json::json!({"uuid": id, "event": event, "distinct_id": person,
                    "timestamp": iso, "properties": {"plan": plan, "$current_url": "https://shop.example/p"}});
                let _ = writeln!(text, "{line}");
            }
            // Some identify calls: their identity links go to PERSONS beside them.
            "segment" if i % 1000 == 500 => {
                let line = serde_json::json!({"type": "identify", "messageId": id,
                    "userId": person, "anonymousId": format!("anon-{i}"), "timestamp": iso,
                    "traits": {"plan": plan}});
                let _ = writeln!(text, "{line}");
            }
            "segment" => {
                let line = serde_json::json!({"type": "track", "messageId": id, "event": event,
                    "userId": person, "timestamp": iso, "sentAt": "2024-06-01T00:00:00Z",
                    "properties": {"plan": plan}, "context": {"library": {"name": "analytics-node"}}});
                let _ = writeln!(text, "{line}");
            }
            _ => {
                // Umami keeps custom-event data in another table: the plan rides in the query.
                let _ = writeln!(
                    text,
                    "{},{person},{},{id},{at}.000,/p,plan={plan},ref.example,\"Shop, \"\"home\"\"\",2,{event},shop.example,chrome,DE",
                    Uuid::nil(),
                    Uuid::nil()
                );
            }
        }
        if [0, 12_345, EVENTS - 1].contains(&i) {
            let plan = if name == "umami" {
                // Umami's `chrome` as live enrichment names it.
                "/p Chrome DE".to_owned()
            } else {
                plan
            };
            samples.push((id, [event, person, at, plan]));
        }
    }
    std::fs::write(&file, text).expect("writes the export");
    Export {
        format,
        file,
        samples,
    }
}

/// Runs `cargo xtask import`; its exit code and what it printed.
fn import(nats: &str, project: Uuid, export: &Export, stop_after: Option<u64>) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.args([
        "import",
        "--project",
        &project.to_string(),
        "--format",
        export.format,
    ]);
    command.args(["--nats-url", nats]);
    if let Some(stop) = stop_after {
        command.args(["--stop-after", &stop.to_string()]);
    }
    let output = command.arg(&export.file).output().expect("xtask runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// The export's sample rows are stored as they were: name, person, time and a detail.
fn assert_samples(stack: &TestStack, project: Uuid, export: &Export) {
    let format = export.format;
    // Umami's export keeps no properties of events: its page, browser and country instead.
    let detail = match format {
        "umami" => "concat(path, ' ', browser, ' ', country)",
        _ => "prop_values[indexOf(prop_keys, 'plan')]",
    };
    for (id, expected) in &export.samples {
        let row = stack
            .clickhouse_sql(&format!(
                "SELECT event, distinct_id, toString(timestamp), {detail} FROM events \
                 WHERE project_id = '{project}' AND event_id = '{id}' FORMAT TSV"
            ))
            .expect("row");
        let row: Vec<&str> = row.trim_end_matches('\n').split('\t').collect();
        assert_eq!(
            row,
            expected.iter().map(String::as_str).collect::<Vec<_>>(),
            "{format}"
        );
    }
}

/// Waits until the sink has taken every message, then counts the project's rows.
async fn settled_count(stack: &TestStack, project: Uuid) -> u64 {
    stack
        .sink_drained(Duration::from_secs(120))
        .await
        .expect("the sink drains the stream");
    count(stack, project)
}

fn count(stack: &TestStack, project: Uuid) -> u64 {
    stack
        .clickhouse_sql(&format!(
            "SELECT count() FROM events WHERE project_id = '{project}'"
        ))
        .expect("count")
        .trim()
        .parse()
        .expect("a number")
}

/// The events/s figure `import` printed.
fn rate(output: &str) -> String {
    output
        .lines()
        .find(|line| line.starts_with("imported") && line.contains("records refused"))
        .unwrap_or("(no summary)")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_of_each_format_store_every_event_once_resumed_or_repeated() {
    let mut stack = TestStack::builder()
        .nats()
        .clickhouse()
        .sink()
        .start()
        .expect("the stack starts");
    let operator = stack.nats().url();
    // The import signs in as ingest, as it does against the `up` stack: ingest's permissions.
    let nats = stack.nats().url_for(devstack::nats::NatsUser::Ingest);
    let js = async_nats::jetstream::new(plumbing::streams::connect(&operator).await.expect("nats"));
    plumbing::streams::provision(
        &js,
        &plumbing::streams::Definitions::bundled().expect("defs"),
    )
    .await
    .expect("streams");
    let dir = TempDir::new();
    let dir = &dir.0;
    for format in ["posthog", "segment", "umami"] {
        let export = generate(dir, format);
        let project = Uuid::now_v7();
        // Killed half way: the state file says where it got to, and the rerun goes on from there.
        let (code, output) = import(&nats, project, &export, Some(50_000));
        assert_eq!(code, 3, "the import stops as told: {output}");
        let state = std::fs::read_to_string(format!("{}.import-state", export.file.display()))
            .expect("a state file is left");
        assert!(state.contains("\"offset\""), "{state}");
        let started = Instant::now();
        let (code, output) = import(&nats, project, &export, None);
        assert_eq!(code, 0, "{output}");
        assert!(output.contains("resuming at byte"), "{output}");
        assert_eq!(
            settled_count(&stack, project).await,
            EVENTS as u64,
            "{format}: once each"
        );
        eprintln!("{format}: resumed import stored in {:?}", started.elapsed());
        if format == "segment" {
            // An identify call's link reached the person mapping: `anon-500` is person-500's.
            let sql = format!(
                "SELECT count() FROM person_ids WHERE project_id = '{project}' \
                 AND distinct_id = 'anon-500'"
            );
            devstack::wait::until(
                "the identify's link is applied",
                Duration::from_secs(60),
                || stack.clickhouse_sql(&sql).is_ok_and(|n| n.trim() == "1"),
            )
            .expect("the link is applied");
        }
        assert_samples(&stack, project, &export);
        // Again after a sink restart (its memory of recent ids gone), the whole file.
        stack.restart(Service::Sink).expect("the sink restarts");
        let started = Instant::now();
        let (code, output) = import(&nats, project, &export, None);
        assert_eq!(code, 0, "{output}");
        eprintln!(
            "{format}: full import in {:?}: {}",
            started.elapsed(),
            rate(&output)
        );
        assert_eq!(
            settled_count(&stack, project).await,
            EVENTS as u64,
            "{format}: nothing added"
        );
    }
    past_the_duplicate_window(&mut stack, &js).await;
}

/// A directory of the test's own, removed when the test ends, passed or not.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("import-test-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An imported event published again once JetStream's duplicate window is past (another
/// `Nats-Msg-Id` stands in for the time gone by) after a sink restart: the import header makes
/// the sink find it stored; the same copy without the header would be stored twice.
async fn past_the_duplicate_window(stack: &mut TestStack, js: &async_nats::jetstream::Context) {
    let project = Uuid::now_v7();
    let event = serde_json::json!({
        "event_id": Uuid::now_v7(), "project_id": project, "kind": "track", "event": "old",
        "distinct_id": "u1", "timestamp": "2023-01-01T00:00:00Z",
        "received_at": "2023-01-01T00:00:00Z",
    });
    let publish = |message_id: String, imported: bool| {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, message_id.as_str());
        if imported {
            headers.insert(contract::streams::IMPORT_HEADER, "1");
        }
        let subject = contract::streams::event_subject(&project.to_string(), "track");
        let payload = event.to_string();
        async move {
            js.publish_with_headers(subject, headers, payload.into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
    };
    publish(Uuid::now_v7().to_string(), true).await;
    assert_eq!(settled_count(stack, project).await, 1);
    stack.restart(Service::Sink).expect("the sink restarts");
    publish(Uuid::now_v7().to_string(), true).await;
    assert_eq!(
        settled_count(stack, project).await,
        1,
        "found stored, not added"
    );
    stack.restart(Service::Sink).expect("the sink restarts");
    publish(Uuid::now_v7().to_string(), false).await;
    assert_eq!(
        settled_count(stack, project).await,
        2,
        "without the header the sink does not look (so the test above tests the header)"
    );
}
