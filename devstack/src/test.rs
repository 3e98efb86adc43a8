//! Test support: the servers (see `test_servers`, re-exported here), services started on their
//! own runtime thread, logging in, and what every service must answer.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::thread::JoinHandle;

use anyhow::Context as _;

pub use crate::test_clusters::{TestCluster, TestNatsCluster};
pub use crate::test_servers::{
    ClickHouseDb, PostgresDb, PrivateClickHouse, PrivatePostgres, TempDir, TestNats, clickhouse,
    postgres, unique_name,
};

/// The shutdown future handed to a service's `run`.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A service running on its own thread and runtime, so a test may block (WebDriver, process
/// control) without starving it. Stopped (gracefully) on drop.
#[derive(Debug)]
pub struct ServiceHandle {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl ServiceHandle {
    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Triggers graceful shutdown and waits for `run` to return its result.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("service thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServiceHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Binds 127.0.0.1:0 and runs `run(listener, shutdown)` on a new thread with its own runtime.
pub fn spawn_service<F, Fut>(name: &str, run: F) -> anyhow::Result<ServiceHandle>
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    spawn_service_at(name, SocketAddr::from(([127, 0, 0, 1], 0)), run)
}

/// [`spawn_service`] on `addr`: a service restarted where its clients expect it.
pub fn spawn_service_at<F, Fut>(
    name: &str,
    addr: SocketAddr,
    run: F,
) -> anyhow::Result<ServiceHandle>
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("service-{name}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let shutdown: Shutdown = Box::pin(async move {
                    let _ = stopped.await;
                });
                run(listener, shutdown).await
            })
        })?;
    Ok(ServiceHandle {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// The access token of `email` from the auth (or the edge in front of it) on `port`, logging in
/// every half second until `timeout` has passed. A failed login counts towards auth's lock (10
/// per account), so callers first wait for auth's readiness, which includes its first admin.
pub fn access_token(
    port: u16,
    email: &str,
    password: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<String> {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let answer = crate::http::request(
            port,
            "POST",
            "/api/auth/login",
            Some("application/json"),
            body.as_bytes(),
            std::time::Duration::from_secs(10),
        );
        match answer {
            Ok(response) if response.status == 200 => {
                let answer: serde_json::Value = serde_json::from_str(&response.body)?;
                return answer["access_token"]
                    .as_str()
                    .map(str::to_owned)
                    .context("the login answer holds no access token");
            }
            Ok(response) if response.status == 429 => {
                anyhow::bail!("logins as {email} are locked: {}", response.body)
            }
            _ if std::time::Instant::now() >= deadline => {
                anyhow::bail!("timed out after {timeout:?} waiting for a login as {email}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(500)),
        }
    }
}

/// Where tests write artifacts a person may look at (screenshots): `target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    crate::workspace_root().join("target/test-artifacts")
}

/// `GET path` on a test service: status and body parsed as JSON (`Null` when it is not JSON).
pub fn get_json(service: &ServiceHandle, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = crate::http::get(
        service.addr.port(),
        path,
        std::time::Duration::from_secs(10),
    )?;
    let body = serde_json::from_str(&response.body).unwrap_or(serde_json::Value::Null);
    Ok((response.status, body))
}

/// Waits until `/readyz` answers `status`; returns that answer's body.
pub fn wait_for_readiness(
    service: &ServiceHandle,
    status: u16,
) -> anyhow::Result<serde_json::Value> {
    wait_for_readiness_within(service, status, std::time::Duration::from_secs(60))
}

/// [`wait_for_readiness`] with a deadline of the caller's, for a service whose start waits on
/// something slower (a ClickHouse cluster's distributed DDL).
pub fn wait_for_readiness_within(
    service: &ServiceHandle,
    status: u16,
    deadline: std::time::Duration,
) -> anyhow::Result<serde_json::Value> {
    let mut last = None;
    crate::wait::until(&format!("/readyz to answer {status}"), deadline, || {
        last = get_json(service, "/readyz").ok();
        last.as_ref().is_some_and(|(s, _)| *s == status)
    })
    .with_context(|| format!("last /readyz answer: {last:?}"))?;
    Ok(last.map(|(_, body)| body).unwrap_or_default())
}

/// Checks what every service must answer: `/healthz` 200 naming the service, and `/metrics`
/// in the Prometheus text format with `own_metric` (a metric of the service's own) in it.
pub fn assert_liveness_and_metrics(
    service: &ServiceHandle,
    name: &str,
    own_metric: &str,
) -> anyhow::Result<String> {
    let (status, body) = get_json(service, "/healthz")?;
    anyhow::ensure!(status == 200, "/healthz answered {status}: {body}");
    anyhow::ensure!(
        body["service"] == name && body["status"] == "ok",
        "/healthz body: {body}"
    );
    let metrics = crate::http::get(
        service.addr.port(),
        "/metrics",
        std::time::Duration::from_secs(10),
    )?;
    anyhow::ensure!(
        metrics.status == 200,
        "/metrics answered {}",
        metrics.status
    );
    anyhow::ensure!(
        metrics.body.contains(&format!("# TYPE {own_metric} ")),
        "/metrics lacks {own_metric}:\n{}",
        metrics.body
    );
    anyhow::ensure!(
        metrics.body.trim_end().ends_with("# EOF"),
        "not OpenMetrics text"
    );
    Ok(metrics.body)
}

/// The value of the metric line `name` (labels included, as `/metrics` prints them) on
/// `service`'s `/metrics`, when it has one.
pub fn metric(service: &ServiceHandle, name: &str) -> Option<f64> {
    metric_at(service.addr.port(), name)
}

/// [`metric`] of the service listening on local `port` (a process the test started itself).
pub fn metric_at(port: u16, name: &str) -> Option<f64> {
    let answer = crate::http::get(port, "/metrics", std::time::Duration::from_secs(5)).ok()?;
    answer.body.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        (key == name).then(|| value.parse().ok()).flatten()
    })
}
