//! The stack the analytics tests run against (auth, ingest, the sink and query on one NATS,
//! PostgreSQL and ClickHouse), and what those tests share.

use std::time::Duration;

use devstack::test::{
    ClickHouseDb, PostgresDb, ServiceHandle, TestNats, spawn_service, wait_for_readiness,
};
use plumbing::config::{ClickHouseConfig, HttpConfig, NatsConfig, PostgresConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) struct Stack {
    pub(crate) _nats: TestNats,
    pub(crate) _pg: PostgresDb,
    pub(crate) _ch: ClickHouseDb,
    pub(crate) auth: ServiceHandle,
    pub(crate) ingest: ServiceHandle,
    pub(crate) _sink: ServiceHandle,
    pub(crate) query: ServiceHandle,
    pub(crate) http: reqwest::Client,
}

impl Stack {
    pub(crate) fn start() -> Self {
        Self::start_with(None)
    }

    /// With every statement query runs appended to `sql_log`.
    pub(crate) fn start_with(sql_log: Option<std::path::PathBuf>) -> Self {
        let nats = TestNats::start().expect("nats");
        let pg = PostgresDb::create().expect("postgres");
        let ch = ClickHouseDb::unique();
        let auth = spawn_service("auth", {
            let mut config = auth::Config::with_defaults(
                HttpConfig::ephemeral(),
                NatsConfig { url: nats.url() },
                PostgresConfig::local(pg.server().port(), &pg.name, pg.server().password()),
            )
            .expect("config");
            config.first_admin = Some((
                "admin@example.com".to_owned(),
                plumbing::config::Secret::new(PASSWORD),
            ));
            move |l, s| auth::run(config, l, s)
        })
        .expect("auth");
        let ingest = spawn_service("ingest", {
            let config = ingest::Config::new(
                HttpConfig::ephemeral(),
                NatsConfig { url: nats.url() },
                ingest::AuthConfig::at(auth.url("")),
            );
            move |l, s| ingest::run(config, l, s)
        })
        .expect("ingest");
        let sink = spawn_service("sink", {
            let config = sink::Config {
                http: HttpConfig::ephemeral(),
                nats: NatsConfig { url: nats.url() },
                clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
                batch: sink::BatchSettings {
                    max_wait_ms: 50,
                    ..Default::default()
                },
            };
            move |l, s| sink::run(config, l, s)
        })
        .expect("sink");
        let query = spawn_service("query", {
            let config = query::Config {
                http: HttpConfig::ephemeral(),
                nats: NatsConfig { url: nats.url() },
                clickhouse: ClickHouseConfig::local(ch.server().http_port(), &ch.name),
                auth: plumbing::jwt::AuthConfig::at(auth.url("")),
                limits: query::Limits::default(),
                sql_log: sql_log.clone(),
            };
            move |l, s| query::run(config, l, s)
        })
        .expect("query");
        for service in [&auth, &ingest, &sink, &query] {
            wait_for_readiness(service, 200).expect("ready");
        }
        Self {
            _nats: nats,
            _pg: pg,
            _ch: ch,
            auth,
            ingest,
            _sink: sink,
            query,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn token(&self, email: &str) -> String {
        devstack::test::access_token(
            self.auth.addr.port(),
            email,
            PASSWORD,
            Duration::from_secs(30),
        )
        .expect("logged in")
    }

    /// A project created by `admin` through auth: its JSON, with `id` and `write_key`.
    pub(crate) async fn create_project(&self, admin: &str, project: Value) -> Value {
        self.http
            .post(self.auth.url("/api/admin/projects"))
            .bearer_auth(admin)
            .json(&project)
            .send()
            .await
            .expect("create project")
            .json()
            .await
            .expect("json")
    }

    /// Sends `batch` to ingest's `/batch/` with the project's write key; ingest takes it.
    pub(crate) async fn send_batch(&self, key: &str, batch: &[Value]) {
        let response = self
            .http
            .post(self.ingest.url("/batch/"))
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
            .post(self.auth.url("/api/auth/register"))
            .json(&register)
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    pub(crate) async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.http.get(self.query.url(path));
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
