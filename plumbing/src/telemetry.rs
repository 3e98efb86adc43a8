//! JSON logs through `tracing`, filtered by `RUST_LOG` (default `info`); and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the same spans exported over OTLP/HTTP, with the trace
//! id the logs carry.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// Set once spans are exported, so that work only an exporter uses (links) is skipped otherwise.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Where spans are exported, from the standard OpenTelemetry variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The OTLP/HTTP traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, or else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://collector:4318`) with `/v1/traces` appended.
    pub traces_endpoint: String,
    /// `OTEL_SERVICE_NAME`, by default the service's own name.
    pub service_name: String,
}

impl OtlpConfig {
    /// `None` when no endpoint is set (unset or empty): nothing is exported.
    pub fn from_env(service: &str) -> Option<Self> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let traces_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        })?;
        Some(Self {
            traces_endpoint,
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| service.to_owned()),
        })
    }
}

/// Keeps the span export running. Dropped at the end of `main`, after the graceful shutdown,
/// it sends the spans still buffered.
#[derive(Debug, Default)]
#[must_use = "dropping it stops the span export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans buffered so far now rather than at the next batch.
    pub async fn flush(&self) {
        let Some(provider) = self.provider.clone() else {
            return;
        };
        // `force_flush` blocks until the export task, which runs on this runtime, answers.
        match tokio::task::spawn_blocking(move || provider.force_flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "flushing the span export failed"),
            Err(err) => tracing::warn!(error = %err, "flushing the span export failed"),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        // Shutting down blocks until the export task, which runs on the tokio runtime, has sent
        // the last batch: this thread must not be one the runtime needs to run that task.
        let shutdown = move || provider.shutdown();
        let result = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(shutdown),
            // On a current-thread runtime the export task cannot run while this thread waits:
            // another thread waits instead, as long as the runtime lives.
            Ok(_) => {
                std::thread::spawn(shutdown);
                return;
            }
            Err(_) => shutdown(),
        };
        if let Err(err) = result {
            eprintln!("the span export did not shut down cleanly: {err}");
        }
    }
}

/// Installs the global JSON subscriber, and the OTLP span export when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. `LOG_FORMAT=pretty` gives human-readable lines
/// instead. Called inside the tokio runtime; keep the returned guard until the service stops.
pub fn init(service: &'static str) -> Telemetry {
    init_with(service, OtlpConfig::from_env(service))
}

/// [`init`] with the export configuration given rather than read from the environment.
pub fn init_with(service: &'static str, otlp: Option<OtlpConfig>) -> Telemetry {
    // Tests start several services in one process: the first subscriber stays, and no export
    // is set up for the others.
    if tracing::dispatcher::has_been_set() {
        return Telemetry::default();
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|format| format == "pretty");
    let logs = if pretty {
        tracing_subscriber::fmt::layer().with_target(true).boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_target(true)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    };
    let (provider, export_error) = match otlp.as_ref().map(otlp_provider).transpose() {
        Ok(provider) => (provider, None),
        Err(err) => (None, Some(err)),
    };
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(service))
            .with_threads(false)
    });
    // `try_init` fails only when another thread installed a subscriber since the check above.
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(spans)
        .try_init()
        .is_ok();
    if !installed {
        return Telemetry::default();
    }
    tracing::info!(
        service,
        version = env!("CARGO_PKG_VERSION"),
        "telemetry started"
    );
    if let Some(err) = export_error {
        // Traces are an aid, not a reason to stay down: the service runs without them.
        tracing::error!(error = format!("{err:#}"), "spans are not exported");
    }
    if let (Some(config), Some(_)) = (&otlp, &provider) {
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!(
            endpoint = %config.traces_endpoint,
            service_name = %config.service_name,
            "exporting spans over OTLP/HTTP"
        );
    }
    Telemetry { provider }
}

/// A tracer provider that exports over OTLP/HTTP protobuf, in batches sent from a task on the
/// current tokio runtime.
fn otlp_provider(config: &OtlpConfig) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(config.traces_endpoint.clone())
        .build()
        .with_context(|| format!("OTLP exporter for {}", config.traces_endpoint))?;
    let batch = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batch)
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build())
}

/// The span context of a valid W3C `traceparent`, as seen from the receiving side.
fn remote_context(traceparent: &str) -> Option<SpanContext> {
    let parsed = crate::traceparent::parse(traceparent)?;
    Some(SpanContext::new(
        TraceId::from_hex(parsed.trace_id).ok()?,
        SpanId::from_hex(parsed.parent_id).ok()?,
        TraceFlags::new(u8::from_str_radix(parsed.flags, 16).ok()?),
        true,
        TraceState::NONE,
    ))
}

/// Makes the caller's span (from its `traceparent`) the parent of `span`, so the exported span
/// continues the caller's trace. Does nothing when spans are not exported or the header is not
/// a valid trace context.
pub fn set_remote_parent(span: &tracing::Span, traceparent: &str) {
    if let Some(remote) = remote_context(traceparent) {
        // Fails only without the OpenTelemetry layer, when there is nothing to continue.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
}

/// Links `span` to the spans of the `traceparent`s (a batch made of many callers' messages),
/// at most `max` of them. Does nothing when spans are not exported.
pub fn link_remote<'a>(
    span: &tracing::Span,
    traceparents: impl IntoIterator<Item = &'a str>,
    max: usize,
) {
    if !EXPORTING.load(Ordering::Relaxed) {
        return;
    }
    for remote in traceparents
        .into_iter()
        .filter_map(remote_context)
        .take(max)
    {
        span.add_link(remote);
    }
}

/// The `traceparent` that names `span` itself, to hand on to the next hop, when spans are
/// exported; `None` otherwise.
pub(crate) fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !EXPORTING.load(Ordering::Relaxed) {
        return None;
    }
    let context = span.context();
    let own = context.span().span_context().clone();
    own.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            own.trace_id(),
            own.span_id(),
            own.trace_flags().to_u8()
        )
    })
}
