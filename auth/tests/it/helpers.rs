//! `TestAuth`: auth in a `devstack::stack::TestStack` (its own NATS and database), and the
//! calls the tests make to it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use contract::auth::{AuthEvent, Claims, Role};
use devstack::stack::TestStack;
use devstack::test::ServiceHandle;
use jsonwebtoken::{Algorithm, Header};
use plumbing::config::PostgresConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) const PASSWORD: &str = "correct horse battery";

/// What [`TestAuth::rebuild_after_catching_up`] saw.
pub(crate) struct Rebuilt {
    /// The projection tables before the rebuild ([`TestAuth::dump`]).
    pub(crate) live: String,
    /// Events the rebuild applied.
    pub(crate) applied: u64,
    /// The stream's last sequence, which the projection had reached.
    pub(crate) last: u64,
}

/// Auth in a stack of its own, with the keys and token settings it was started with.
pub(crate) struct TestAuth {
    pub(crate) stack: TestStack,
    pub(crate) keys: auth::signing::SigningKeys,
    pub(crate) settings: auth::tokens::TokenSettings,
    pub(crate) http: reqwest::Client,
}

impl TestAuth {
    pub(crate) fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// With `ADMIN_EMAIL` / `ADMIN_PASSWORD` set to `first_admin` (no first admin without it).
    pub(crate) fn start_with(first_admin: Option<&str>) -> anyhow::Result<Self> {
        if std::env::var_os("TEST_LOGS").is_some() {
            let _ = plumbing::telemetry::init("auth-test");
        }
        let first_admin = first_admin.map(str::to_owned);
        // The configuration the stack starts auth with, for the keys and the token settings.
        let started_with = Arc::new(Mutex::new(None));
        let record = Arc::clone(&started_with);
        let stack = TestStack::builder()
            .configure_auth(move |config| {
                config.first_admin = first_admin
                    .clone()
                    .map(|email| (email, plumbing::config::Secret::new(PASSWORD)));
                *record.lock().expect("not poisoned") = Some(config.clone());
            })
            .start()?;
        let config = started_with
            .lock()
            .expect("not poisoned")
            .take()
            .expect("auth was configured");
        Ok(Self {
            stack,
            keys: config.keys.load()?,
            settings: config.tokens,
            http: reqwest::Client::new(),
        })
    }

    pub(crate) fn service(&self) -> &ServiceHandle {
        self.stack.auth()
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let response = self
            .http
            .post(self.service().url(path))
            .json(&body)
            .send()
            .await
            .expect("auth answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        )
    }

    pub(crate) async fn register(&self, email: &str) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post(
                "/api/auth/register",
                json!({ "email": email, "password": PASSWORD, "name": "Ada" }),
            )
            .await;
        (status, body)
    }

    pub(crate) async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post(
                "/api/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        (status, body)
    }

    /// Logs in as a client at `address` would through edge, which names the client in
    /// `X-Forwarded-For` (auth trusts this machine as its proxy).
    pub(crate) async fn login_from(
        &self,
        address: &str,
        email: &str,
        password: &str,
    ) -> StatusCode {
        self.http
            .post(self.service().url("/api/auth/login"))
            .header("x-forwarded-for", address)
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("auth answers")
            .status()
    }

    pub(crate) async fn refresh(&self, token: &str) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post("/api/auth/refresh", json!({ "refresh_token": token }))
            .await;
        (status, body)
    }

    pub(crate) async fn me(&self, access_token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.service().url("/api/auth/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("auth answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `method path` with a bearer token and an optional JSON body.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.service().url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("auth answers");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Logs in and returns the access token.
    pub(crate) async fn token(&self, email: &str) -> String {
        let (status, body) = self.login(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// A new project named `name`, created by the instance admin `admin`: its id.
    pub(crate) async fn project(&self, admin: &str, name: &str) -> String {
        let (status, created) = self
            .call(
                reqwest::Method::POST,
                "/api/admin/projects",
                admin,
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().expect("id").to_owned()
    }

    /// Registers `email` and makes them a member of `project` with `role` (none: no member):
    /// their access token.
    pub(crate) async fn person(
        &self,
        admin: &str,
        project: &str,
        email: &str,
        role: Option<&str>,
    ) -> String {
        let (_, user) = self.register(email).await;
        let id = user["id"].as_str().expect("id");
        if let Some(role) = role {
            let (status, body) = self
                .call(
                    reqwest::Method::PUT,
                    &format!("/api/admin/projects/{project}/members/{id}"),
                    admin,
                    Some(json!({ "role": role })),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        self.token(email).await
    }

    /// Waits for the first admin, created in the background at start.
    pub(crate) async fn admin_token(&self, email: &str) -> String {
        devstack::wait::until_async("the first admin", Duration::from_secs(30), || async {
            self.login(email, PASSWORD).await.0 == StatusCode::OK
        })
        .await
        .expect("first admin created");
        self.token(email).await
    }

    pub(crate) fn pool(&self) -> sqlx::PgPool {
        let (server, db) = self.stack.postgres();
        auth::pool(&PostgresConfig::local(server.port(), db, server.password()))
    }

    pub(crate) async fn js(&self) -> jetstream::Context {
        jetstream::new(
            plumbing::streams::connect(self.stack.nats().url())
                .await
                .expect("nats"),
        )
    }

    /// Waits until the projection holds every message on the stream, dumps the live tables and
    /// rebuilds them from the stream.
    pub(crate) async fn rebuild_after_catching_up(&self) -> Rebuilt {
        let js = self.js().await;
        let last = js
            .get_stream("AUTH")
            .await
            .expect("stream")
            .info()
            .await
            .expect("info")
            .state
            .last_sequence;
        let pool = self.pool();
        devstack::wait::until_async("projection caught up", Duration::from_secs(10), || async {
            auth::projector::last_applied(&pool)
                .await
                .is_ok_and(|l| l >= last)
        })
        .await
        .expect("caught up");
        let live = self.dump();
        let applied = auth::rebuild::rebuild(&js, &pool, 1, |_, _| {})
            .await
            .expect("rebuilds");
        Rebuilt {
            live,
            applied,
            last,
        }
    }

    /// Every projection table, ordered, as text, for comparing live state with a rebuild.
    pub(crate) fn dump(&self) -> String {
        [
            "SELECT id, email, email_hash, name, password_hash, role, disabled, created_at, last_login_at, failed_logins, version FROM users ORDER BY id",
            "SELECT family_id, user_id, current_hash, expires_at, created_at, revoked_at, revoked_reason, version FROM sessions ORDER BY family_id",
            "SELECT token_hash, family_id, rotated_at FROM session_tokens ORDER BY token_hash",
            "SELECT id, name, timezone, created_at, version, domains, events_per_second, bytes_per_second, retention_months FROM projects ORDER BY id",
            "SELECT id, project_id, key, created_at, revoked_at FROM write_keys ORDER BY id",
            "SELECT project_id, user_id, role, version FROM project_members ORDER BY project_id, user_id",
            "SELECT id, project_id, marked, content, created_by, created_at, updated_at, version FROM annotations ORDER BY id",
            "SELECT id, project_id, email, role, token_hash, expires_at, created_by, created_at, state, version FROM invites ORDER BY id",
            // Not last_used_at: query's usage notices set it outside the stream.
            "SELECT id, user_id, name, prefix, key_hash, project_ids, expires_at, created_at, revoked_at, version FROM api_keys ORDER BY id",
            "SELECT id, project_id, name, kind, view, query, updated_by, updated_at, version FROM insights ORDER BY id",
            "SELECT id, project_id, name, insight_ids, updated_by, updated_at, version FROM dashboards ORDER BY id",
            "SELECT id, project_id, dashboard_id, prefix, token_hash, password_hash, embed_origins, created_by, created_at, revoked_at, version FROM shares ORDER BY id",
            "SELECT project_id, sequence, at, actor, action, summary, subject_user FROM project_audit ORDER BY project_id, sequence",
            "SELECT id, user_id, token_hash, expires_at, created_by, created_at, used_at, version FROM password_resets ORDER BY id",
            "SELECT last_sequence FROM projection_state",
        ]
        .iter()
        .map(|sql| self.sql(sql))
        .collect::<Vec<_>>()
        .join("\n---\n")
    }

    pub(crate) fn sql(&self, sql: &str) -> String {
        let (server, db) = self.stack.postgres();
        server.psql_in(db, sql).expect("psql").trim().to_owned()
    }

    pub(crate) async fn stream_messages(&self, subject: &str) -> Vec<AuthEvent> {
        let client = plumbing::streams::connect(self.stack.nats().url())
            .await
            .expect("nats");
        let js = jetstream::new(client);
        let stream = js.get_stream("AUTH").await.expect("AUTH exists");
        let mut events = Vec::new();
        let mut sequence = 0;
        loop {
            match stream
                .direct_get_next_for_subject(subject, Some(sequence + 1))
                .await
            {
                Ok(message) => {
                    sequence = message.sequence;
                    events.push(serde_json::from_slice(&message.payload).expect("auth event"));
                }
                Err(_) => return events,
            }
        }
    }

    /// A token signed with auth's own key, with `edit` applied to otherwise valid claims.
    pub(crate) fn signed(&self, edit: impl FnOnce(&mut Value)) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = serde_json::to_value(Claims {
            sub: Uuid::now_v7(),
            role: Role::Admin,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            exp: now + 600,
            nbf: now,
            iat: now,
            jti: Uuid::now_v7(),
        })
        .expect("claims");
        edit(&mut claims);
        let (kid, key) = self.keys.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, key).expect("signs")
    }
}
