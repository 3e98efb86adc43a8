//! The edge binary: configuration from the environment, then [`edge::run`].

use anyhow::Context as _;

// Edge allocates for every request it forwards (headers, URLs, bodies); the system allocator
// was a seventh of its CPU on single-event requests.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = plumbing::telemetry::init("edge");
    let config = edge::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    edge::run(config, listener, plumbing::shutdown::signal()).await
}
