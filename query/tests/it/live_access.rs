//! The live feed lasts as long as the caller's access: it ends by itself when the token it was
//! opened with expires, and when an admin disables the caller, each time with an `end` message
//! saying why, after delivering the events sent before.

use std::time::{Duration, Instant};

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::ServiceHandle;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Auth (access tokens living `access_ttl_secs`), ingest, the sink (which creates the events
/// table query counts active users in) and query on one NATS, each as its own NATS user (query's
/// may subscribe to the live feed and to `auth.user.>`).
struct Stack {
    services: TestStack,
    http: reqwest::Client,
}

impl Stack {
    fn start(access_ttl_secs: u64) -> Self {
        let services = TestStack::builder()
            .everything()
            .configure_auth(move |config| config.tokens.access_ttl_secs = access_ttl_secs)
            .configure_sink(|config| config.batch = sink::BatchSettings::default())
            .start()
            .expect("the stack starts");
        Self {
            services,
            http: reqwest::Client::new(),
        }
    }

    fn auth(&self) -> &ServiceHandle {
        self.services.auth()
    }

    fn ingest(&self) -> &ServiceHandle {
        self.services.ingest()
    }

    fn query(&self) -> &ServiceHandle {
        self.services.query()
    }

    fn token(&self, email: &str) -> String {
        devstack::test::access_token(
            self.auth().addr.port(),
            email,
            PASSWORD,
            Duration::from_secs(30),
        )
        .expect("logged in")
    }

    /// A new project, once ingest takes its write key and query knows it: (id, write key).
    async fn project(&self) -> (String, String) {
        let created: Value = self
            .http
            .post(self.auth().url("/api/admin/projects"))
            .bearer_auth(self.token(ADMIN))
            .json(&json!({ "name": "Live" }))
            .send()
            .await
            .expect("create project")
            .json()
            .await
            .expect("json");
        let project = created["id"].as_str().expect("project id").to_owned();
        let key = created["write_key"].as_str().expect("write key").to_owned();
        devstack::wait::until_async(
            "the project known to ingest and query",
            Duration::from_secs(20),
            || async {
                self.send(&key, "warm-up").await == StatusCode::OK
                    && self
                        .open(&self.token(ADMIN), &project)
                        .await
                        .is_ok_and(|feed| feed.status() == StatusCode::OK)
            },
        )
        .await
        .expect("project known");
        (project, key)
    }

    /// `GET /api/query/live` of `project` with `token`.
    async fn open(&self, token: &str, project: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(
                self.query()
                    .url(&format!("/api/query/live?project_id={project}")),
            )
            .bearer_auth(token)
            .send()
            .await
    }

    /// Sends the PostHog event `uuid` with the write key `key`: ingest's status.
    async fn send(&self, key: &str, uuid: &str) -> StatusCode {
        self.http
            .post(self.ingest().url("/e/"))
            .json(&json!({ "api_key": key, "uuid": uuid, "event": "live-click", "distinct_id": "watcher" }))
            .send()
            .await
            .map_or(StatusCode::SERVICE_UNAVAILABLE, |response| response.status())
    }
}

/// Reads `feed` into `received` until `done` holds for what was read, or until the stream
/// closes (then `true`), within `timeout`; `false` on timeout.
async fn read_until(
    feed: &mut reqwest::Response,
    received: &mut String,
    timeout: Duration,
    done: impl Fn(&str) -> bool,
) -> bool {
    let reading = async {
        while !done(received) {
            match feed.chunk().await {
                Ok(Some(chunk)) => received.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None) | Err(_) => return true,
            }
        }
        false
    };
    tokio::time::timeout(timeout, reading).await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_feed_ends_by_itself_when_its_token_expires_after_delivering_the_events_sent_before()
{
    let stack = Stack::start(3);
    let (project, key) = stack.project().await;

    let logged_in = Instant::now();
    let token = stack.token(ADMIN);
    let mut feed = stack.open(&token, &project).await.expect("live");
    assert_eq!(feed.status(), StatusCode::OK);
    let mut received = String::new();
    // The first count arrives at once: the subscription is open.
    let counted = read_until(&mut feed, &mut received, Duration::from_secs(10), |read| {
        read.contains("event: active_users")
    })
    .await;
    assert!(
        counted && received.contains("event: active_users"),
        "{received}"
    );

    let id = Uuid::new_v4().to_string();
    assert_eq!(stack.send(&key, &id).await, StatusCode::OK);
    // Nothing more is asked of the stream: it must end on its own, the event delivered first.
    let closed = read_until(&mut feed, &mut received, Duration::from_secs(15), |_| false).await;
    let lasted = logged_in.elapsed();
    assert!(closed, "the feed still open after 15 s: {received}");
    let event_at = received
        .find(&id)
        .expect("the event sent before expiry arrived");
    let end_at = received
        .find("event: end\ndata: {\"reason\":\"token_expired\"}")
        .unwrap_or_else(|| panic!("an end message: {received}"));
    assert!(event_at < end_at, "{received}");
    assert!(
        received
            .trim_end()
            .ends_with("{\"reason\":\"token_expired\"}"),
        "nothing after the end message: {received}"
    );
    // The token says `exp` = its issue second + 3: at least 2 s after the login started.
    assert!(
        lasted >= Duration::from_secs(2),
        "ended {lasted:?} after the login, before the token's exp"
    );
    eprintln!("a feed opened with a 3 s token ended {lasted:?} after the login");

    // A fresh token opens it again.
    let reopened = stack
        .open(&stack.token(ADMIN), &project)
        .await
        .expect("live");
    assert_eq!(reopened.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_feed_ends_when_an_admin_disables_its_caller() {
    let stack = Stack::start(900);
    let (project, _) = stack.project().await;
    let admin = stack.token(ADMIN);
    let email = "watcher@example.com";
    let registered = stack
        .http
        .post(stack.auth().url("/api/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let user: Value = registered.json().await.expect("json");
    let user_id = user["id"].as_str().expect("user id");
    let user_path = format!("/api/admin/users/{user_id}");
    let added = stack
        .http
        .put(
            stack
                .auth()
                .url(&format!("/api/admin/projects/{project}/members/{user_id}")),
        )
        .bearer_auth(&admin)
        .json(&json!({ "role": "viewer" }))
        .send()
        .await
        .expect("add member");
    assert_eq!(added.status(), StatusCode::OK);

    // Query learns the membership from the stream within moments.
    let token = stack.token(email);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut feed = loop {
        let feed = stack.open(&token, &project).await.expect("live");
        if feed.status() == StatusCode::OK {
            break feed;
        }
        assert!(
            Instant::now() < deadline,
            "the member's feed: {}",
            feed.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut received = String::new();
    let counted = read_until(&mut feed, &mut received, Duration::from_secs(10), |read| {
        read.contains("event: active_users")
    })
    .await;
    assert!(counted, "{received}");

    let disabled = stack
        .http
        .patch(stack.auth().url(&user_path))
        .bearer_auth(&admin)
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .expect("disable");
    assert_eq!(disabled.status(), StatusCode::OK);
    let answered = Instant::now();
    let closed = read_until(&mut feed, &mut received, Duration::from_secs(15), |_| false).await;
    assert!(
        closed,
        "the feed still open 15 s after disabling: {received}"
    );
    assert!(
        received
            .trim_end()
            .ends_with("event: end\ndata: {\"reason\":\"access_revoked\"}"),
        "{received}"
    );
    eprintln!(
        "the disabled caller's feed ended {:?} after auth answered",
        answered.elapsed()
    );
}
