//! Imports of past events through the API, against the real stack behind edge: an admin uploads
//! an export of each format and its job reaches `done` with every event stored once; another
//! user may not; a second upload of the same file stores nothing new; bad files are refused
//! and leave nothing stored, as a job over leaves no file; an import whose ingest stops half
//! way is let go and taken up again by the next ingest and ends with exact counts; and edge lets
//! a slow upload take its time but cuts one that stalls.

use std::fmt::Write as _;
use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, Service, TestStack};
use devstack::test::ServiceHandle;
use futures_util::StreamExt as _;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{call, create_project, user_and_analyst};

/// An export of `events` events in `format`: JSON lines (PostHog, Segment) or Umami's CSV.
pub fn export(format: &str, events: usize) -> Vec<u8> {
    let mut text = String::with_capacity(events * 250);
    if format == "umami" {
        text.push_str(
            "website_id,session_id,visit_id,event_id,created_at,url_path,url_query,\
             referrer_domain,page_title,event_type,event_name,hostname,browser,country\n",
        );
    }
    for i in 0..events {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{format}-{i}").as_bytes());
        let at = time::OffsetDateTime::UNIX_EPOCH
            + time::Duration::seconds(1_672_531_200 + (i as i64) * 61);
        let day = at.date();
        let clock = format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second());
        let (event, person) = (format!("event {}", i % 7), format!("person-{}", i % 500));
        let line = match format {
            "posthog" => serde_json::json!({"uuid": id, "event": event, "distinct_id": person,
                "timestamp": format!("{day}T{clock}Z"), "properties": {"plan": "pro"}})
            .to_string(),
            "segment" => serde_json::json!({"type": "track", "messageId": id, "event": event,
                "userId": person, "timestamp": format!("{day}T{clock}Z"), "properties": {"plan": "pro"}})
            .to_string(),
            _ => format!(
                "{},{person},{},{id},{day} {clock}.000,/p,,ref.example,Shop,2,{event},shop.example,chrome,DE",
                Uuid::nil(),
                Uuid::nil()
            ),
        };
        let _ = writeln!(text, "{line}");
    }
    text.into_bytes()
}

/// `POST /api/imports` of `file`: the status and the answer.
pub async fn upload(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    token: &str,
    project: &str,
    format: &str,
    file: Vec<u8>,
) -> anyhow::Result<(u16, Value)> {
    let answer = http
        .post(edge.url(&format!(
            "/api/imports?project_id={project}&format={format}"
        )))
        .bearer_auth(token)
        .body(file)
        .send()
        .await?;
    let status = answer.status().as_u16();
    Ok((status, answer.json().await.unwrap_or_default()))
}

/// `GET /api/imports/{id}` as `token`.
async fn job(http: &reqwest::Client, edge: &ServiceHandle, token: &str, id: &str) -> Value {
    let url = edge.url(&format!("/api/imports/{id}"));
    match call(http, reqwest::Method::GET, url, Some(token), None).await {
        Ok((200, job)) => job,
        _ => Value::Null,
    }
}

/// Polls the job until it is over: done or failed.
async fn finished(http: &reqwest::Client, edge: &ServiceHandle, token: &str, id: &str) -> Value {
    devstack::wait::until_async("the import job ends", Duration::from_secs(300), || async {
        matches!(
            job(http, edge, token, id).await["state"].as_str(),
            Some("done" | "failed")
        )
    })
    .await
    .expect("the job ends");
    job(http, edge, token, id).await
}

/// The project's stored events once the sink has taken every message of `EVENTS`.
pub async fn settled_count(stack: &TestStack, project: &str) -> u64 {
    stack
        .sink_drained(Duration::from_secs(180))
        .await
        .expect("the sink drains the stream");
    stack
        .clickhouse_sql(&format!(
            "SELECT count() FROM events WHERE project_id = '{project}'"
        ))
        .expect("count")
        .trim()
        .parse()
        .expect("a number")
}

/// The uploads the `IMPORTS` bucket holds (not deleted), and the bytes of its stream.
async fn stored_files(stack: &TestStack) -> (Vec<String>, u64) {
    let client = plumbing::streams::connect(&stack.nats().url())
        .await
        .expect("nats");
    let js = async_nats::jetstream::new(client);
    let files = js
        .get_object_store(contract::imports::IMPORTS_BUCKET)
        .await
        .expect("the imports bucket");
    let mut names = Vec::new();
    let mut list = files.list().await.expect("lists");
    while let Some(info) = list.next().await {
        let info = info.expect("an object");
        if !info.deleted {
            names.push(info.name);
        }
    }
    let mut stream = js.get_stream("OBJ_IMPORTS").await.expect("its stream");
    let bytes = stream.info().await.expect("info").state.bytes;
    (names, bytes)
}

/// Waits until the `IMPORTS` bucket holds no upload.
async fn no_files_left(stack: &TestStack) {
    devstack::wait::until_async("no upload is left", Duration::from_secs(60), || async {
        stored_files(stack).await.0.is_empty()
    })
    .await
    .expect("every upload deleted");
}

const EVENTS: usize = 3_000;

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_imports_each_format_once_through_the_api_and_others_may_not() {
    // A small upload limit, to see a file over it refused (the exports below are under it).
    let stack = TestStack::builder()
        .everything()
        .configure_ingest(|config| config.imports.max_bytes = 1 << 20)
        .start()
        .expect("stack");
    let edge = stack.edge(|_| {}).expect("edge");
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))
        .expect("admin token");
    let (user, _) = user_and_analyst(&http, &edge, &admin)
        .await
        .expect("a user");
    for format in ["posthog", "segment", "umami"] {
        let (project, _) = create_project(&http, &edge, &admin, format)
            .await
            .expect("project");
        let file = export(format, EVENTS);
        let (status, created) = upload(&http, &edge, &admin, &project, format, file.clone())
            .await
            .expect("upload");
        assert_eq!(status, 202, "{format}: {created}");
        assert_eq!(created["state"], "queued", "{created}");
        assert_eq!(created["file_bytes"], file.len() as u64);
        let id = created["id"].as_str().expect("an id").to_owned();
        let done = finished(&http, &edge, &admin, &id).await;
        assert_eq!(done["state"], "done", "{format}: {done}");
        assert_eq!(done["imported"], EVENTS as u64, "{done}");
        assert_eq!(done["refused"], 0, "{done}");
        assert_eq!(done["bytes_read"], file.len() as u64, "{done}");
        assert_eq!(
            settled_count(&stack, &project).await,
            EVENTS as u64,
            "{format}"
        );

        // The same file again: every id is looked up and nothing is stored twice.
        let (status, again) = upload(&http, &edge, &admin, &project, format, file)
            .await
            .expect("upload");
        assert_eq!(status, 202, "{again}");
        let again = finished(&http, &edge, &admin, again["id"].as_str().expect("id")).await;
        assert_eq!(again["state"], "done", "{again}");
        // A job over, its file is deleted.
        no_files_left(&stack).await;
        assert_eq!(
            settled_count(&stack, &project).await,
            EVENTS as u64,
            "{format}: once"
        );

        let list = edge.url(&format!("/api/imports?project_id={project}"));
        let (status, jobs) = call(
            &http,
            reqwest::Method::GET,
            list.clone(),
            Some(&admin),
            None,
        )
        .await
        .expect("list");
        assert_eq!(status, 200, "{jobs}");
        let ids: Vec<&str> = jobs
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|job| job["id"].as_str())
            .collect();
        assert_eq!(
            ids,
            [again["id"].as_str().expect("id"), id.as_str()],
            "newest first"
        );

        // A user who is not the project's admin sees and starts nothing.
        let (status, _) = upload(&http, &edge, &user, &project, format, export(format, 3))
            .await
            .expect("upload");
        assert_eq!(status, 403);
        let (status, _) = call(&http, reqwest::Method::GET, list, Some(&user), None)
            .await
            .expect("list");
        assert_eq!(status, 403);
        let url = edge.url(&format!("/api/imports/{id}"));
        let (status, _) = call(&http, reqwest::Method::GET, url, Some(&user), None)
            .await
            .expect("get");
        assert_eq!(status, 403);
    }
    let (project, _) = create_project(&http, &edge, &admin, "refusals")
        .await
        .expect("project");
    let refused = [
        ("plausible", b"{}\n".to_vec(), 400, "format"),
        ("posthog", vec![0x1f, 0x8b, 8, 0, 0], 400, "gunzip"),
        ("posthog", Vec::new(), 400, "empty"),
        ("posthog", vec![b'\n'; (1 << 20) + 1], 413, "larger than"),
    ];
    for (format, file, expected, says) in refused {
        let (status, body) = upload(&http, &edge, &admin, &project, format, file)
            .await
            .expect("upload");
        assert_eq!(status, expected, "{format}: {body}");
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
            + body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}");
    }
    // Sent without a size, a file over the limit is refused as it is counted, and what came of
    // it is deleted: the bucket holds only the deleted files' markers.
    let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(vec![b'\n'; 64 * 1024]));
    let answer = http
        .post(edge.url(&format!("/api/imports?project_id={project}&format=posthog")))
        .bearer_auth(&admin)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    if let Ok(answer) = answer {
        // The refusal may also break the connection while the body is still being sent.
        assert_eq!(answer.status(), 413);
    }
    no_files_left(&stack).await;
    let (_, bytes) = stored_files(&stack).await;
    assert!(
        bytes < 100_000,
        "no refused upload's chunks are left: {bytes} bytes"
    );
    let unknown = Uuid::now_v7();
    let (status, _) = upload(
        &http,
        &edge,
        &admin,
        &unknown.to_string(),
        "posthog",
        export("posthog", 1),
    )
    .await
    .expect("upload");
    assert_eq!(status, 404, "no such project");
    let (status, _) = call(
        &http,
        reqwest::Method::GET,
        edge.url("/api/imports"),
        Some(&admin),
        None,
    )
    .await
    .expect("list");
    assert_eq!(status, 400, "no project id");
    let (status, _) = upload(
        &http,
        &edge,
        "not a token",
        &project,
        "posthog",
        export("posthog", 1),
    )
    .await
    .expect("upload");
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_left_half_done_by_a_stopped_ingest_is_finished_by_the_next_with_exact_counts() {
    const MANY: usize = 100_000;
    // Throttled, so the restart lands part way for certain; a job held by a live ingest is
    // never taken for abandoned here, so only the stopping ingest letting it go lets the next
    // one go on.
    let mut stack = TestStack::builder()
        .everything()
        .configure_ingest(|config| {
            config.imports.stale_after = Duration::from_secs(600);
            config.imports.events_per_second = Some(5_000);
        })
        .start()
        .expect("stack");
    let edge = stack.edge(|_| {}).expect("edge");
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))
        .expect("admin token");
    let (project, _) = create_project(&http, &edge, &admin, "resumed")
        .await
        .expect("project");
    let file = export("segment", MANY);
    let size = file.len() as u64;
    let (status, created) = upload(&http, &edge, &admin, &project, "segment", file)
        .await
        .expect("upload");
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    devstack::wait::until_async(
        "the import is part way",
        Duration::from_secs(120),
        || async {
            job(&http, &edge, &admin, &id).await["bytes_read"]
                .as_u64()
                .unwrap_or(0)
                > 0
        },
    )
    .await
    .expect("the import starts");
    stack.restart(Service::Ingest).expect("ingest restarts");
    let left = job(&http, &edge, &admin, &id).await;
    let at = left["bytes_read"].as_u64().expect("an offset");
    assert!(at > 0 && at < size, "stopped half way: {left}");
    assert_eq!(left["state"], "running", "{left}");
    let done = finished(&http, &edge, &admin, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["imported"], MANY as u64, "{done}");
    assert_eq!(done["bytes_read"], size, "{done}");
    assert_eq!(
        done["started_at"], left["started_at"],
        "the same job, resumed"
    );
    assert_eq!(settled_count(&stack, &project).await, MANY as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_through_edge_is_cut_only_once_nothing_passes_for_the_timeout() {
    // A stand-in for ingest: reads an upload's whole body, then answers 202 with its size.
    let app = axum::Router::new().route(
        "/api/imports",
        axum::routing::post(|body: axum::body::Bytes| async move {
            let size = serde_json::json!({ "file_bytes": body.len() });
            (axum::http::StatusCode::ACCEPTED, axum::Json(size))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let ingest_url = format!("http://{}", listener.local_addr().expect("its address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let stack = TestStack::builder().auth().start().expect("stack");
    let edge = stack
        .edge(|config| {
            config.ingest_url = ingest_url;
            config.upstream_timeout_ms = 2_000;
        })
        .expect("edge");
    let port = edge.addr.port();
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))
        .expect("admin token");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .expect("client");
    let url =
        edge.url("/api/imports?project_id=0190a3e2-7c4d-7000-8000-000000000001&format=segment");

    // A slow upload, 3 s in all (longer than the timeout), its bytes 0.25 s apart (far inside
    // it): it passes whole.
    let trickle = futures_util::stream::unfold(0, |i| async move {
        if i == 12 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        Some((Ok::<_, std::io::Error>(vec![b'x'; 1024]), i + 1))
    });
    let answer = http
        .post(&url)
        .bearer_auth(&admin)
        .body(reqwest::Body::wrap_stream(trickle))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["file_bytes"], 12 * 1024, "{body}");

    // One that stops sending is cut once nothing has passed for the timeout.
    let stalled = futures_util::stream::unfold(0, |i| async move {
        match i {
            0 => Some((Ok::<_, std::io::Error>(vec![b'x'; 1024]), 1)),
            1 => {
                tokio::time::sleep(Duration::from_secs(120)).await;
                None
            }
            _ => None,
        }
    });
    let started = std::time::Instant::now();
    let answer = http
        .post(&url)
        .bearer_auth(&admin)
        .body(reqwest::Body::wrap_stream(stalled))
        .send()
        .await
        .expect("an answer");
    let waited = started.elapsed();
    assert_eq!(answer.status(), 504);
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(60),
        "cut after {waited:?}"
    );

    // Listing the jobs is no upload: the normal body limit.
    let answer = http
        .get(&url)
        .bearer_auth(&admin)
        .body(vec![b'x'; 2 << 20])
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 413);
    server.abort();
}

/// An upload that sends `first`, then waits for `go`: 1 ends it, 2 breaks it off.
fn held_upload(
    first: Vec<u8>,
    go: tokio::sync::watch::Receiver<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold((Some(first), go), |(first, mut go)| async move {
        if let Some(first) = first {
            return Some((Ok(first), (None, go)));
        }
        match go.wait_for(|go| *go != 0).await.map(|go| *go) {
            Ok(1) => None,
            Ok(0) => None,
            _ => Some((Err(std::io::Error::other("broken off")), (None, go))),
        }
    })
}

/// Starts an upload of `first` to `url` that waits for its `go` (see [`held_upload`]): the
/// sender of its `go`, and the task awaiting its status.
fn start_held(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    first: Vec<u8>,
) -> (
    tokio::sync::watch::Sender<u8>,
    tokio::task::JoinHandle<Option<u16>>,
) {
    let (go, wait) = tokio::sync::watch::channel(0_u8);
    let request = http
        .post(url)
        .bearer_auth(token)
        .body(reqwest::Body::wrap_stream(held_upload(first, wait)));
    let sending = tokio::spawn(async move {
        request
            .send()
            .await
            .ok()
            .map(|answer| answer.status().as_u16())
    });
    (go, sending)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_counts_from_its_first_byte_and_one_broken_off_fails_leaving_no_file() {
    let stack = TestStack::builder().everything().start().expect("stack");
    // Uploads held open below wait on the test, not on edge's timeout.
    let edge = stack
        .edge(|config| config.upstream_timeout_ms = 120_000)
        .expect("edge");
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))
        .expect("admin token");
    let (project, _) = create_project(&http, &edge, &admin, "held")
        .await
        .expect("project");
    let url = edge.url(&format!("/api/imports?project_id={project}&format=segment"));
    let list = edge.url(&format!("/api/imports?project_id={project}"));
    let states = || async {
        let answer = call(
            &http,
            reqwest::Method::GET,
            list.clone(),
            Some(&admin),
            None,
        )
        .await;
        let jobs = answer.map(|(_, jobs)| jobs).unwrap_or_default();
        let mut states: Vec<String> = jobs
            .as_array()
            .map(|jobs| {
                jobs.iter()
                    .filter_map(|job| job["state"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        states.sort();
        states
    };
    // Five uploads started at once, each still coming after its first record: three are jobs
    // from that first byte, the project's three unfinished imports; the others are refused.
    let record = b"{\"type\":\"track\",\"event\":\"a\",\"userId\":\"p\",\"timestamp\":\"2024-01-01T00:00:00Z\"}\n";
    let (gos, sending): (Vec<_>, Vec<_>) = (0..5)
        .map(|_| start_held(&http, &url, &admin, record.to_vec()))
        .unzip();
    devstack::wait::until_async(
        "three uploads are listed",
        Duration::from_secs(60),
        || async { states().await == ["uploading", "uploading", "uploading"] },
    )
    .await
    .expect("the uploads are jobs from their first byte");
    let (status, body) = upload(
        &http,
        &edge,
        &admin,
        &project,
        "segment",
        export("segment", 3),
    )
    .await
    .expect("upload");
    assert_eq!(status, 409, "{body}");
    // The other two are refused as they arrive: wait for their answers before letting the
    // three finish, or one that a loaded machine delays would find room.
    let refused = || async { sending.iter().filter(|task| task.is_finished()).count() == 2 };
    devstack::wait::until_async("two uploads refused", Duration::from_secs(60), refused)
        .await
        .expect("two answered while the three are held");
    for go in &gos {
        let _ = go.send(1);
    }
    let mut answers = Vec::new();
    for task in sending {
        answers.push(task.await.expect("the upload task"));
    }
    answers.sort();
    assert_eq!(
        answers,
        [Some(202), Some(202), Some(202), Some(409), Some(409)]
    );
    devstack::wait::until_async("the three jobs end", Duration::from_secs(120), || async {
        states().await == ["done", "done", "done"]
    })
    .await
    .expect("three done");

    // One that breaks off ends failed.
    let (go, sending) = start_held(&http, &url, &admin, record.to_vec());
    devstack::wait::until_async("the upload is listed", Duration::from_secs(60), || async {
        states().await == ["done", "done", "done", "uploading"]
    })
    .await
    .expect("an upload");
    let _ = go.send(2);
    let _ = sending.await;
    devstack::wait::until_async("it fails", Duration::from_secs(60), || async {
        states().await == ["done", "done", "done", "failed"]
    })
    .await
    .expect("the broken upload failed");
    let (_, jobs) = call(&http, reqwest::Method::GET, list, Some(&admin), None)
        .await
        .expect("list");
    let failed = jobs
        .as_array()
        .and_then(|jobs| jobs.iter().find(|job| job["state"] == "failed"))
        .cloned()
        .unwrap_or_default();
    assert!(
        failed["errors"].to_string().contains("broke off"),
        "{failed}"
    );
    no_files_left(&stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_store_of_uploads_answers_507_naming_the_cause() {
    // Uploads of at most 1 MiB: the bucket holds 4 MiB.
    let stack = TestStack::builder()
        .everything()
        .configure_ingest(|config| config.imports.max_bytes = 1 << 20)
        .start()
        .expect("stack");
    let edge = stack.edge(|_| {}).expect("edge");
    let http = reqwest::Client::new();
    let port = edge.addr.port();
    let admin = devstack::test::access_token(port, ADMIN, PASSWORD, Duration::from_secs(30))
        .expect("admin token");
    // Four uploads of 896 KiB still coming, two projects' (three at most each).
    let mut held = Vec::new();
    for name in ["full-1", "full-2"] {
        let (project, _) = create_project(&http, &edge, &admin, name)
            .await
            .expect("project");
        let url = edge.url(&format!("/api/imports?project_id={project}&format=segment"));
        for _ in 0..2 {
            // Seven whole chunks of 128 KiB: all stored while the upload waits.
            held.push(start_held(&http, &url, &admin, vec![b'\n'; 7 * 128 * 1024]));
        }
    }
    devstack::wait::until_async(
        "four uploads are stored as they come",
        Duration::from_secs(60),
        || async { stored_files(&stack).await.1 > 3_600_000 },
    )
    .await
    .expect("the uploads fill the bucket");
    let (project, _) = create_project(&http, &edge, &admin, "full-3")
        .await
        .expect("project");
    // A size said up front: refused before anything is stored.
    let (status, body) = upload(
        &http,
        &edge,
        &admin,
        &project,
        "segment",
        export("segment", 4_000),
    )
    .await
    .expect("upload");
    assert_eq!(status, 507, "{body}");
    assert!(body.to_string().contains("full"), "{body}");
    // Sent without one: refused once the bucket refuses its bytes.
    let url = edge.url(&format!("/api/imports?project_id={project}&format=segment"));
    let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'\n'; 120_000]));
    let answer = http
        .post(&url)
        .bearer_auth(&admin)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 507);
    for (go, sending) in held {
        let _ = go.send(2);
        let _ = sending.await;
    }
    no_files_left(&stack).await;
    // Nor is anything left of their chunks (a file is marked deleted before its chunks are
    // purged) or of the write the full bucket refused.
    let purged =
        devstack::wait::until_async("no chunks are left", Duration::from_secs(60), || async {
            stored_files(&stack).await.1 < 100_000
        })
        .await;
    if let Err(err) = purged {
        panic!("{err:#}: {} bytes", stored_files(&stack).await.1);
    }
}
