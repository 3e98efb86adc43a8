//! Prometheus metrics: one registry per service, names prefixed with the service's name.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the HTTP request metrics; the route is the matched pattern, never the raw path,
/// so the label set stays small.
pub type HttpLabels = Vec<(&'static str, String)>;

/// A service's registry plus the metrics every service has.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// `<service>_http_requests_total{method, route, status}`.
    pub http_requests: Family<HttpLabels, Counter>,
    /// `<service>_http_request_duration_seconds{method, route}`.
    pub http_duration: Family<HttpLabels, Histogram>,
    /// `<service>_dependency_up{dependency}`: 1 when the last readiness check reached it.
    pub dependency_up: Family<Vec<(&'static str, String)>, Gauge>,
    /// The request counter and duration histogram of each route, method and status seen,
    /// resolved from the families once: a request then costs one lookup by its route and no
    /// allocation, instead of building its labels and hashing them into both families.
    request_children: RwLock<HashMap<String, Vec<RequestChildren>>>,
}

/// The metrics one method and status of a route count into.
#[derive(Debug)]
struct RequestChildren {
    method: String,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

impl Metrics {
    /// A registry whose metric names all start with `<service>_`.
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_prefix(service);
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, matched route and status",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from request received to response headers sent",
            http_duration.clone(),
        );
        let dependency_up = Family::<Vec<(&'static str, String)>, Gauge>::default();
        registry.register(
            "dependency_up",
            "1 when the last readiness check reached the dependency, else 0",
            dependency_up.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            http_requests,
            http_duration,
            dependency_up,
            request_children: RwLock::default(),
        }
    }

    /// Counts one answered request and its duration: this runs for every request.
    pub(crate) fn observe_request(
        &self,
        method: &str,
        route: &str,
        status: axum::http::StatusCode,
        elapsed: std::time::Duration,
    ) {
        // A client may send any method name: the labels (and the children kept) stay few.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "CONNECT"
            | "TRACE" => method,
            _ => "other",
        };
        let seen = |children: &RequestChildren| {
            children.status == status.as_u16() && children.method == method
        };
        {
            let known = self
                .request_children
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(children) = known
                .get(route)
                .and_then(|all| all.iter().find(|c| seen(c)))
            {
                children.requests.inc();
                children.duration.observe(elapsed.as_secs_f64());
                return;
            }
        }
        let mut labels: HttpLabels = vec![
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        let requests = self.http_requests.get_or_create(&labels).clone();
        labels.truncate(2);
        let duration = self.http_duration.get_or_create(&labels).clone();
        requests.inc();
        duration.observe(elapsed.as_secs_f64());
        let mut known = self
            .request_children
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let all = known.entry(route.to_owned()).or_default();
        if !all.iter().any(seen) {
            all.push(RequestChildren {
                method: method.to_owned(),
                status: status.as_u16(),
                requests,
                duration,
            });
        }
    }

    /// Registers a service's own metric under `<service>_<name>`.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.lock().register(name, help, metric);
    }

    /// The whole registry in the OpenMetrics text format that Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.lock());
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves the registry intact, so recover it.
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A counter family with one label whose series start at 0 for every known value, so they show
/// in `/metrics` (and in rate queries) before the first event.
pub fn counter_family(
    label: &'static str,
    values: &[&str],
) -> Family<Vec<(&'static str, String)>, Counter> {
    let family = Family::<Vec<(&'static str, String)>, Counter>::default();
    for value in values {
        let _ = family.get_or_create(&vec![(label, (*value).to_owned())]);
    }
    family
}

/// Content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_method_and_status_is_counted_on_its_own() {
        let metrics = Metrics::new("svc");
        let ok = axum::http::StatusCode::OK;
        let bad = axum::http::StatusCode::BAD_REQUEST;
        let second = std::time::Duration::from_secs(1);
        metrics.observe_request("POST", "/e", ok, second);
        metrics.observe_request("POST", "/e", ok, second);
        metrics.observe_request("POST", "/e", bad, second);
        metrics.observe_request("GET", "/e", ok, second);
        metrics.observe_request("POST", "/batch", ok, second);
        metrics.observe_request("BREW", "/e", ok, second);
        metrics.observe_request("WHEN", "/e", ok, second);
        let text = metrics.render();
        for line in [
            r#"svc_http_requests_total{method="POST",route="/e",status="200"} 2"#,
            r#"svc_http_requests_total{method="POST",route="/e",status="400"} 1"#,
            r#"svc_http_requests_total{method="GET",route="/e",status="200"} 1"#,
            r#"svc_http_requests_total{method="POST",route="/batch",status="200"} 1"#,
            r#"svc_http_request_duration_seconds_count{method="POST",route="/e"} 3"#,
            r#"svc_http_requests_total{method="other",route="/e",status="200"} 2"#,
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
