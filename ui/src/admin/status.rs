//! The status tab: `GET /api/admin/status`, read again every 10 s while the tab is open. Each
//! part of the answer may be missing (edge could not read it); what was read is still shown.

use contract::erasure::PendingErasure;
use contract::status::{
    ClickHouseStatus, ConsumerStatus, ServiceStatus, StreamStatus, SystemStatus,
};
use js_sys::futures::spawn_local;
use sycamore::prelude::*;

use crate::api::{self, Action, ApiError};
use crate::browser::every;
use crate::format::{bytes_label, count_label};
use crate::session::Session;

const REFRESH_MS: i32 = 10_000;

/// The sentence for a failed status call.
pub(crate) fn status_error(error: &ApiError) -> String {
    format!(
        "Could not read the status: {}",
        api::explain(error, Action::Work)
    )
}

/// `2026-01-01T12:30:05.123Z` as `2026-01-01 12:30:05 UTC`; other text as it came.
pub(crate) fn checked_label(checked_at: &str) -> String {
    match (checked_at.get(..19), checked_at.ends_with('Z')) {
        (Some(seconds), true) if seconds.as_bytes().get(10) == Some(&b'T') => {
            format!("{} UTC", seconds.replacen('T', " ", 1))
        }
        _ => checked_at.to_owned(),
    }
}

#[component]
pub(crate) fn StatusPanel() -> View {
    let session = use_context::<Session>();
    let status: Signal<Option<SystemStatus>> = create_signal(None);
    let loading = create_signal(false);
    let error: Signal<Option<String>> = create_signal(None);
    let load = move || {
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        spawn_local(async move {
            let answer = session
                .authorized(|token| async move {
                    api::get::<SystemStatus>("/api/admin/status", &token).await
                })
                .await;
            if !loading.is_alive() {
                return;
            }
            loading.set(false);
            match answer {
                Ok(answer) => {
                    error.set(None);
                    status.set(Some(answer));
                }
                Err(err) => error.set(Some(status_error(&err))),
            }
        });
    };
    on_mount(move || {
        load();
        every(REFRESH_MS, load);
    });
    view! {
        div(class="admin-toolbar") {
            p(class="status-checked") {
                (move || status.with(|s| s.as_ref().map_or_else(
                    || "Not read yet.".to_owned(),
                    |s| format!("Checked at {} · refreshes every 10 s", checked_label(&s.checked_at)),
                )))
            }
            button(id="status-refresh", r#type="button", disabled=loading, on:click=move |_| load()) {
                (move || if loading.get() { "Refreshing…" } else { "Refresh" })
            }
        }
        (move || (loading.get() && status.with(Option::is_none)).then(|| view! {
            p(id="status-loading", class="status", role="status") { "Reading the system's status…" }
        }))
        (move || error.get_clone().map(|message| view! {
            p(id="status-error", class="form-error", role="alert") { (message) }
        }))
        (move || status.get_clone().map(status_view))
    }
}

/// The status as read: services, storage, problems, streams and consumers, a card each.
fn status_view(status: SystemStatus) -> View {
    let SystemStatus {
        services,
        streams,
        consumers,
        dlq_messages,
        clickhouse,
        pending_erasures,
        problems,
        ..
    } = status;
    let services = services_card(services);
    let storage = storage_card(dlq_messages, clickhouse);
    let problems = problems_card(problems);
    let erasures = erasures_card(pending_erasures);
    let streams = streams_card(streams);
    let consumers = consumers_card(consumers);
    view! {
        div(class="status-grid") {
            (services)
            (storage)
        }
        (problems)
        (erasures)
        (streams)
        (consumers)
    }
}

/// Whether each service is ready, under a one-line summary.
fn services_card(services: Vec<ServiceStatus>) -> View {
    let all_ready = services.iter().all(|s| s.ready);
    let summary = if services.is_empty() {
        "No services reported.".to_owned()
    } else if all_ready {
        format!("All {} services are ready.", services.len())
    } else {
        let down = services.iter().filter(|s| !s.ready).count();
        format!("{down} of {} services are not ready.", services.len())
    };
    let services = services
        .into_iter()
        .map(|service| {
            let state = if service.ready { "Ready" } else { "Not ready" };
            let class = if service.ready {
                "service ready"
            } else {
                "service not-ready"
            };
            let ready = service.ready.to_string();
            let name_attr = service.name.clone();
            let name = service.name;
            let detail = match service.detail {
                Some(detail) if !detail.is_empty() => {
                    view! { span(class="service-detail") { (detail) } }
                }
                _ => view! {},
            };
            view! {
                li(class=class, data-service=name_attr, data-ready=ready) {
                    span(class="service-name") { (name) }
                    span(class="service-state") { (state) }
                    (detail)
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        section(class="card status-card", aria-labelledby="status-services-title") {
            h3(id="status-services-title") { "Services" }
            p(id="status-summary", class=if all_ready { "summary ok" } else { "summary bad" }) { (summary) }
            ul(id="status-services", class="services") { (services) }
        }
    }
}

/// The dead letters waiting and what ClickHouse holds.
fn storage_card(dlq_messages: Option<u64>, clickhouse: Option<ClickHouseStatus>) -> View {
    let dlq = dlq_messages.map_or_else(|| "unknown".to_owned(), count_label);
    let dlq_class = match dlq_messages {
        Some(0) => "figure",
        _ => "figure warn",
    };
    let clickhouse = match clickhouse {
        Some(ch) => {
            let rows = count_label(ch.rows);
            let bytes = bytes_label(ch.bytes_on_disk);
            let parts = count_label(ch.parts);
            let version = ch.version;
            view! {
                div(id="status-clickhouse-rows", class="figure") { dt { "ClickHouse rows" } dd { (rows) } }
                div(id="status-clickhouse-bytes", class="figure") { dt { "On disk" } dd { (bytes) } }
                div(id="status-clickhouse-parts", class="figure") { dt { "Active parts" } dd { (parts) } }
                div(id="status-clickhouse-version", class="figure") { dt { "ClickHouse version" } dd { (version) } }
            }
        }
        None => view! {
            div(id="status-clickhouse-rows", class="figure warn") { dt { "ClickHouse" } dd { "unknown" } }
        },
    };
    view! {
        section(class="card status-card", aria-labelledby="status-storage-title") {
            h3(id="status-storage-title") { "Dead letters and storage" }
            dl(class="figures") {
                div(id="status-dlq", class=dlq_class) { dt { "Dead-letter messages" } dd { (dlq) } }
                (clickhouse)
            }
        }
    }
}

/// The problems edge found, only when there are any.
fn problems_card(problems: Vec<String>) -> View {
    if problems.is_empty() {
        return view! {};
    }
    let problems = problems
        .into_iter()
        .map(|problem| view! { li { (problem) } })
        .collect::<Vec<_>>();
    view! {
        section(id="status-problems", class="card problems", role="alert", aria-labelledby="status-problems-title") {
            h3(id="status-problems-title") { "Problems" }
            ul { (problems) }
        }
    }
}

/// The erasures of tracked persons asked for and not done yet, only when there are any: by
/// project and time (the status never names the person).
fn erasures_card(erasures: Vec<PendingErasure>) -> View {
    if erasures.is_empty() {
        return view! {};
    }
    let rows = erasures
        .into_iter()
        .map(|erasure| {
            let project = erasure.project_id.to_string();
            let requested = checked_label(&erasure.requested_at);
            view! {
                tr(data-erasure=erasure.erasure_id.to_string()) {
                    td { code { (project) } }
                    td { (requested) }
                }
            }
        })
        .collect::<Vec<_>>();
    view! {
        section(id="status-erasures", class="card", aria-labelledby="status-erasures-title") {
            h3(id="status-erasures-title") { "Pending erasures" }
            table {
                thead { tr { th(scope="col") { "Project" } th(scope="col") { "Asked at" } } }
                tbody { (rows) }
            }
        }
    }
}

/// A row per stream: its size, sequences and limit.
fn streams_card(streams: Vec<StreamStatus>) -> View {
    let streams = streams
        .into_iter()
        .map(|stream| {
            let limit = limit_label(&stream);
            let name_attr = stream.name.clone();
            let name = stream.name;
            let messages = count_label(stream.messages);
            let bytes = bytes_label(stream.bytes);
            let sequences = format!(
                "{} – {}",
                count_label(stream.first_sequence),
                count_label(stream.last_sequence)
            );
            view! {
                tr(data-stream=name_attr) {
                    th(scope="row") { (name) }
                    td(class="num") { (messages) }
                    td(class="num") { (bytes) }
                    td(class="num") { (sequences) }
                    td(class="num") { (limit) }
                }
            }
        })
        .collect::<Vec<_>>();
    let no_streams = streams.is_empty();
    view! {
        section(class="card status-card", aria-labelledby="status-streams-title") {
            h3(id="status-streams-title") { "Streams" }
            (if no_streams { view! { p(class="status") { "No stream could be read." } } } else { view! {
                div(class="table-scroll") {
                    table(id="status-streams", class="admin-table") {
                        thead { tr {
                            th(scope="col") { "Stream" }
                            th(scope="col", class="num") { "Messages" }
                            th(scope="col", class="num") { "Size" }
                            th(scope="col", class="num") { "Sequences" }
                            th(scope="col", class="num") { "Limit" }
                        } }
                        tbody { (streams) }
                    }
                }
            } })
        }
    }
}

/// A row per consumer: what it has still to read and to acknowledge; one behind is marked.
fn consumers_card(consumers: Vec<ConsumerStatus>) -> View {
    let consumers = consumers
        .into_iter()
        .map(|consumer| {
            let class = if consumer.pending > 0 || consumer.redelivered > 0 {
                "behind"
            } else {
                ""
            };
            let name_attr = consumer.name.clone();
            let name = format!("{} / {}", consumer.stream, consumer.name);
            let pending = count_label(consumer.pending);
            let ack_pending = count_label(consumer.ack_pending);
            let redelivered = count_label(consumer.redelivered);
            view! {
                tr(data-consumer=name_attr, class=class) {
                    th(scope="row") { (name) }
                    td(class="num") { (pending) }
                    td(class="num") { (ack_pending) }
                    td(class="num") { (redelivered) }
                }
            }
        })
        .collect::<Vec<_>>();
    let no_consumers = consumers.is_empty();
    view! {
        section(class="card status-card", aria-labelledby="status-consumers-title") {
            h3(id="status-consumers-title") { "Consumers" }
            (if no_consumers { view! { p(class="status") { "No consumer could be read." } } } else { view! {
                div(class="table-scroll") {
                    table(id="status-consumers", class="admin-table") {
                        thead { tr {
                            th(scope="col") { "Consumer" }
                            th(scope="col", class="num") { "Pending" }
                            th(scope="col", class="num") { "Ack pending" }
                            th(scope="col", class="num") { "Redelivered" }
                        } }
                        tbody { (consumers) }
                    }
                }
            } })
        }
    }
}

/// A stream's limit and how full it is: "4 GiB · 12 % used" (the nearer limit is the one
/// shown); what happens when it is full is in the title.
fn limit_label(stream: &StreamStatus) -> String {
    let limit = match (stream.max_bytes, stream.max_messages) {
        (Some(bytes), _) => bytes_label(bytes),
        (None, Some(messages)) => format!("{} messages", count_label(messages)),
        (None, None) => return "none".to_owned(),
    };
    let used = stream.used_percent().unwrap_or_default();
    let full = if stream.refuses_when_full {
        "refuses when full"
    } else {
        "drops the oldest"
    };
    format!("{limit} · {used} % used · {full}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_call_reads_as_the_api_explains_it() {
        let down = ApiError::Unreachable("TypeError".to_owned());
        assert_eq!(
            status_error(&down),
            format!("Could not read the status: {}", api::UNAVAILABLE)
        );
    }

    #[test]
    fn the_check_time_reads_to_the_second() {
        assert_eq!(
            checked_label("2026-11-30T13:00:59.068388999Z"),
            "2026-11-30 13:00:59 UTC"
        );
        assert_eq!(
            checked_label("2026-11-30T13:00:59Z"),
            "2026-11-30 13:00:59 UTC"
        );
        assert_eq!(checked_label("soon"), "soon");
    }

    #[test]
    fn every_part_of_the_status_is_shown() {
        let status: SystemStatus = serde_json::from_value(serde_json::json!({
            "checked_at": "2026-01-01T00:00:00Z",
            "services": [
                {"name": "ingest", "ready": true, "detail": null},
                {"name": "sink", "ready": false, "detail": "clickhouse: connection refused"}
            ],
            "streams": [{"name": "EVENTS", "messages": 1234, "bytes": 2048, "first_sequence": 1, "last_sequence": 1234,
                         "max_messages": null, "max_bytes": 4096, "refuses_when_full": true}],
            "consumers": [{"stream": "EVENTS", "name": "sink", "pending": 5, "ack_pending": 2, "redelivered": 1}],
            "dlq_messages": 3,
            "clickhouse": null,
            "pending_erasures": [{"erasure_id": "0190a0b2-0000-7000-8000-000000000001",
                                  "project_id": "0190a0b2-0000-7000-8000-000000000002",
                                  "requested_at": "2026-01-01T00:00:00Z"}],
            "problems": ["clickhouse: timed out"]
        }))
        .expect("a status");
        let html = sycamore::web::render_to_string(move || status_view(status));
        assert!(html.contains("data-service=\"ingest\""), "{html}");
        assert!(html.contains("clickhouse: connection refused"), "{html}");
        assert!(html.contains("1 of 2 services are not ready."), "{html}");
        assert!(html.contains("1,234"), "{html}");
        assert!(html.contains("2 KiB"), "{html}");
        assert!(
            html.contains("4 KiB · 50 % used · refuses when full"),
            "{html}"
        );
        assert!(html.contains("clickhouse: timed out"), "{html}");
        assert!(html.contains("id=\"status-dlq\""), "{html}");
        assert!(html.contains("Pending erasures"), "{html}");
        assert!(
            html.contains("0190a0b2-0000-7000-8000-000000000002"),
            "{html}"
        );
    }
}
