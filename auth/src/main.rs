//! The auth binary: configuration from the environment, then [`auth::run`].

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    plumbing::telemetry::init("auth");
    let config = auth::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    auth::run(config, listener, plumbing::shutdown::signal()).await
}
