//! The auth binary: serves auth, or with `keys add <file>` adds a signing key (key rotation).

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, action, file] = args.as_slice()
        && command == "keys"
        && action == "add"
    {
        let kid = auth::keys::add_to_file(std::path::Path::new(file))?;
        println!("added signing key {kid} to {file}; it signs new tokens after the next restart");
        return Ok(());
    }
    if !args.is_empty() {
        anyhow::bail!("usage: auth [keys add <keys-file>]");
    }

    plumbing::telemetry::init("auth");
    let config = auth::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.http.bind_addr())
        .await
        .with_context(|| format!("binding {}", config.http.bind_addr()))?;
    auth::run(config, listener, plumbing::shutdown::signal()).await
}
