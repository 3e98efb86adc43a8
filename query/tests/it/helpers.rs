//! The stack the analytics tests run against (auth, ingest, the sink and query from
//! `devstack::stack::TestStack`), and the calls those tests make to it.

use std::time::Duration;

use devstack::clickhouse::ClickHouse;
use devstack::stack::TestStack;
use devstack::test::ServiceHandle;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) use devstack::stack::PASSWORD;

/// Auth (with the first admin `admin@example.com`), ingest, the sink and query on one NATS,
/// PostgreSQL and ClickHouse.
pub(crate) struct Stack {
    pub(crate) services: TestStack,
    pub(crate) http: reqwest::Client,
}

impl Stack {
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// With every statement query runs appended to `sql_log`.
    pub(crate) fn start_with(sql_log: Option<std::path::PathBuf>) -> Self {
        let services = TestStack::builder()
            .everything()
            .configure_query(move |config| config.sql_log = sql_log.clone())
            .start()
            .expect("the stack starts");
        Self {
            services,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn auth(&self) -> &ServiceHandle {
        self.services.auth()
    }

    pub(crate) fn ingest(&self) -> &ServiceHandle {
        self.services.ingest()
    }

    pub(crate) fn query(&self) -> &ServiceHandle {
        self.services.query()
    }

    /// The ClickHouse server and the name of the test's database on it.
    pub(crate) fn clickhouse(&self) -> (&ClickHouse, &str) {
        self.services.clickhouse()
    }

    pub(crate) fn token(&self, email: &str) -> String {
        devstack::test::access_token(
            self.auth().addr.port(),
            email,
            PASSWORD,
            Duration::from_secs(30),
        )
        .expect("logged in")
    }

    /// A project created by `admin` through auth: its JSON, with `id` and `write_key`.
    pub(crate) async fn create_project(&self, admin: &str, project: Value) -> Value {
        self.http
            .post(self.auth().url("/api/admin/projects"))
            .bearer_auth(admin)
            .json(&project)
            .send()
            .await
            .expect("create project")
            .json()
            .await
            .expect("json")
    }

    /// A project named `name` in `timezone`, created by `admin`: its id and write key.
    pub(crate) async fn project_in(
        &self,
        admin: &str,
        name: &str,
        timezone: &str,
    ) -> (String, String) {
        let created = self
            .create_project(admin, json!({ "name": name, "timezone": timezone }))
            .await;
        let text = |field: &str| {
            created[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {created}"))
                .to_owned()
        };
        (text("id"), text("write_key"))
    }

    /// Sends `batch` to ingest's `/batch/` with the project's write key; ingest takes it.
    pub(crate) async fn send_batch(&self, key: &str, batch: &[Value]) {
        let response = self
            .http
            .post(self.ingest().url("/batch/"))
            .json(&json!({ "api_key": key, "batch": batch }))
            .send()
            .await
            .expect("ingest");
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A user who registered themselves: no role beyond user.
    pub(crate) async fn register(&self, email: &str) {
        let register = json!({ "email": email, "password": PASSWORD });
        let response = self
            .http
            .post(self.auth().url("/api/auth/register"))
            .json(&register)
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    /// `DELETE path` at query with `token`: the status.
    pub(crate) async fn delete(&self, token: &str, path: &str) -> StatusCode {
        self.http
            .delete(self.query().url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("query answers")
            .status()
    }

    pub(crate) async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.http.get(self.query().url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("query answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// `text` as a query-string value.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls `poll` (devstack's wait, a deadline of 60 s) until `done` holds of its answer, and
/// returns that answer; past the deadline, fails naming `what` and the last answer.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut poll: F, done: impl Fn(&T) -> bool) -> T
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let last = std::sync::Mutex::new(None);
    let waited = devstack::wait::until_async(what, Duration::from_secs(60), || {
        let answer = poll();
        async {
            let answer = answer.await;
            let held = done(&answer);
            *last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(answer);
            held
        }
    })
    .await;
    let last = last
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match (waited, last) {
        (Ok(()), Some(answer)) => answer,
        (_, last) => panic!("{what}: the last answer was {last:?}"),
    }
}
