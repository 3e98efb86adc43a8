//! OTLP trace export: a service started with an OTLP endpoint sends its request spans there,
//! continuing the caller's W3C trace. Its own test binary, because the subscriber it installs
//! is global to the process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use plumbing::config::HttpConfig;
use plumbing::health::Health;
use plumbing::metrics::Metrics;
use plumbing::telemetry::OtlpConfig;
use prost::Message as _;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct ReceivedSpan {
    service_name: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

/// What the OTLP receiver collected: every span of every accepted request.
type Received = Arc<Mutex<Vec<ReceivedSpan>>>;

/// `POST /v1/traces`, OTLP/HTTP with protobuf bodies, as a collector accepts it.
async fn receive_traces(
    State(received): State<Received>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.as_bytes())
        != Some(b"application/x-protobuf")
    {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|attribute| attribute.key == "service.name")
            .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
            .map_or_else(String::new, |value| match value {
                Value::StringValue(text) => text.clone(),
                other => format!("{other:?}"),
            });
        for span in resource_spans
            .scope_spans
            .into_iter()
            .flat_map(|scope| scope.spans)
        {
            spans.push(ReceivedSpan {
                service_name: service_name.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
            });
        }
    }
    received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .extend(spans);
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_span_continues_the_callers_trace_and_reaches_the_otlp_endpoint()
-> anyhow::Result<()> {
    // The receiver, standing in for an OpenTelemetry Collector on 4318.
    let received = Received::default();
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let collector_addr = collector.local_addr()?;
    let receiver = Router::new()
        .route("/v1/traces", post(receive_traces))
        .with_state(Arc::clone(&received));
    tokio::spawn(async move { axum::serve(collector, receiver).await });

    // `OTEL_EXPORTER_OTLP_ENDPOINT=http://<receiver>`, without touching the process
    // environment the other tests of this crate do not share anyway.
    let telemetry = plumbing::telemetry::init_with(
        "otlp-test",
        Some(OtlpConfig {
            traces_endpoint: format!("http://{collector_addr}/v1/traces"),
            service_name: "otlp-test".to_owned(),
        }),
    );

    // A service whose one route answers with the trace context it was handed, which is what
    // it would copy into a NATS message or a request to the next service.
    let metrics = Arc::new(Metrics::new("otlp_test"));
    let routes = Router::new().route(
        "/echo-traceparent",
        get(|headers: HeaderMap| async move {
            headers
                .get(&plumbing::http::TRACEPARENT)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let service_addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let health = Health::new("otlp-test", Arc::clone(&metrics));
    let service = tokio::spawn(async move {
        plumbing::http::run_service(
            listener,
            routes,
            health,
            metrics,
            &HttpConfig::ephemeral(),
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });

    let handed_on = reqwest::Client::new()
        .get(format!("http://{service_addr}/echo-traceparent"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let _ = stop.send(());
    service.await??;
    telemetry.flush().await;

    let request_span = || {
        received
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|span| span.name == "request" && span.trace_id == TRACE_ID)
            .cloned()
    };
    devstack::wait::until_async(
        "the request span at the OTLP receiver",
        Duration::from_secs(20),
        || std::future::ready(request_span().is_some()),
    )
    .await?;
    let span = request_span().ok_or_else(|| anyhow::anyhow!("the request span went away"))?;
    assert_eq!(span.service_name, "otlp-test");
    assert_eq!(span.parent_span_id, CALLER_SPAN_ID, "{span:?}");
    // The service hands on its own span as the parent of the next hop, in the same trace.
    assert_eq!(handed_on, format!("00-{TRACE_ID}-{}-01", span.span_id));
    assert_ne!(span.span_id, CALLER_SPAN_ID);
    Ok(())
}
