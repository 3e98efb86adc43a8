//! The query binary: configuration from the environment, then [`query::run`].

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = plumbing::telemetry::init("query");
    let config = query::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    query::run(config, listener, plumbing::shutdown::signal()).await
}
