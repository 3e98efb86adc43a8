//! Choosing ports: a free one for tests, and a clear error when a configured one is taken.

use std::net::{Ipv4Addr, TcpListener};

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Fails with a message naming the port, its purpose and the variable that moves it.
pub fn ensure_free(port: u16, what: &str, variable: &str) -> anyhow::Result<()> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(err) => anyhow::bail!(
            "port {port} for {what} is taken ({err}); stop what uses it or set {variable} to another port"
        ),
    }
}
