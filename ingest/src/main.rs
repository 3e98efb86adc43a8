//! The ingest binary: configuration from the environment, then [`ingest::run`].

use anyhow::Context as _;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = plumbing::telemetry::init("ingest");
    let config = ingest::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    ingest::run(config, listener, plumbing::shutdown::signal()).await
}
