//! JSON logs through `tracing`, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global JSON subscriber. `LOG_FORMAT=pretty` gives human-readable lines instead.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|format| format == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    // `try_init` fails only when a subscriber is already installed (tests start several
    // services in one process); the first one wins, which is what we want.
    let installed = if pretty {
        builder.try_init().is_ok()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .is_ok()
    };
    if installed {
        tracing::info!(
            service,
            version = env!("CARGO_PKG_VERSION"),
            "telemetry started"
        );
    }
}
