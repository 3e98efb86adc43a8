//! The auth API against real nats-server and PostgreSQL: registration, login, refresh-token
//! rotation, the unique email under concurrency, and every way a forged token must fail.

use std::time::Duration;

use async_nats::jetstream;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::auth::{AuthEvent, Claims, Role};
use devstack::test::{PostgresDb, ServiceHandle, TestNats, spawn_service, wait_for_readiness};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use plumbing::config::{HttpConfig, NatsConfig, PostgresConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

/// One auth service with its own NATS and database.
struct TestAuth {
    nats: TestNats,
    db: PostgresDb,
    service: ServiceHandle,
    keys: auth::signing::SigningKeys,
    settings: auth::tokens::TokenSettings,
    http: reqwest::Client,
}

impl TestAuth {
    fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// With `ADMIN_EMAIL` / `ADMIN_PASSWORD` set to `first_admin`.
    fn start_with(first_admin: Option<&str>) -> anyhow::Result<Self> {
        if std::env::var_os("TEST_LOGS").is_some() {
            let _ = plumbing::telemetry::init("auth-test");
        }
        let nats = TestNats::start()?;
        let db = PostgresDb::create()?;
        let mut config = auth::Config::with_defaults(
            HttpConfig::ephemeral(),
            NatsConfig { url: nats.url() },
            PostgresConfig::local(db.server().port(), &db.name, db.server().password()),
        )?;
        config.first_admin =
            first_admin.map(|email| (email.to_owned(), plumbing::config::Secret::new(PASSWORD)));
        let keys = config.keys.load()?;
        let settings = config.tokens.clone();
        let service = spawn_service("auth", move |listener, shutdown| {
            auth::run(config, listener, shutdown)
        })?;
        wait_for_readiness(&service, 200)?;
        Ok(Self {
            nats,
            db,
            service,
            keys,
            settings,
            http: reqwest::Client::new(),
        })
    }

    async fn post(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let response = self
            .http
            .post(self.service.url(path))
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

    async fn register(&self, email: &str) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post(
                "/api/auth/register",
                json!({ "email": email, "password": PASSWORD, "name": "Ada" }),
            )
            .await;
        (status, body)
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
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
    async fn login_from(&self, address: &str, email: &str, password: &str) -> StatusCode {
        self.http
            .post(self.service.url("/api/auth/login"))
            .header("x-forwarded-for", address)
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("auth answers")
            .status()
    }

    async fn refresh(&self, token: &str) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post("/api/auth/refresh", json!({ "refresh_token": token }))
            .await;
        (status, body)
    }

    async fn me(&self, access_token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.service.url("/api/auth/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("auth answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `method path` with a bearer token and an optional JSON body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.service.url(path))
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
    async fn token(&self, email: &str) -> String {
        let (status, body) = self.login(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Waits for the first admin, created in the background at start.
    async fn admin_token(&self, email: &str) -> String {
        devstack::wait::until_async("the first admin", Duration::from_secs(30), || async {
            self.login(email, PASSWORD).await.0 == StatusCode::OK
        })
        .await
        .expect("first admin created");
        self.token(email).await
    }

    fn pool(&self) -> sqlx::PgPool {
        auth::pool(&PostgresConfig::local(
            self.db.server().port(),
            &self.db.name,
            self.db.server().password(),
        ))
    }

    async fn js(&self) -> jetstream::Context {
        jetstream::new(
            plumbing::streams::connect(self.nats.url())
                .await
                .expect("nats"),
        )
    }

    /// Every projection table, ordered, as text, for comparing live state with a rebuild.
    fn dump(&self) -> String {
        [
            "SELECT id, email, email_hash, name, password_hash, role, disabled, created_at, last_login_at, failed_logins, version FROM users ORDER BY id",
            "SELECT family_id, user_id, current_hash, expires_at, created_at, revoked_at, revoked_reason, version FROM sessions ORDER BY family_id",
            "SELECT token_hash, family_id, rotated_at FROM session_tokens ORDER BY token_hash",
            "SELECT id, name, timezone, created_at, version, domains, events_per_second, bytes_per_second FROM projects ORDER BY id",
            "SELECT id, project_id, key, created_at, revoked_at FROM write_keys ORDER BY id",
            "SELECT last_sequence FROM projection_state",
        ]
        .iter()
        .map(|sql| self.sql(sql))
        .collect::<Vec<_>>()
        .join("\n---\n")
    }

    fn sql(&self, sql: &str) -> String {
        self.db
            .server()
            .psql_in(&self.db.name, sql)
            .expect("psql")
            .trim()
            .to_owned()
    }

    async fn stream_messages(&self, subject: &str) -> Vec<AuthEvent> {
        let client = plumbing::streams::connect(self.nats.url())
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
    fn signed(&self, edit: impl FnOnce(&mut Value)) -> String {
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

#[tokio::test(flavor = "multi_thread")]
async fn register_then_me_shows_the_user_from_the_projection() {
    let auth = TestAuth::start().expect("auth starts");
    let (status, user) = auth.register("  Ada@Example.com ").await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["role"], "user");
    // Read-your-writes: the row is there the moment register answered.
    assert_eq!(
        auth.sql("SELECT count(*) FROM users WHERE email = 'ada@example.com'"),
        "1"
    );

    let (status, tokens) = auth.login("ADA@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().expect("access token");
    let (status, me) = auth.me(access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["email"], "ada@example.com");

    let user_id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");
    let events = auth
        .stream_messages(&contract::auth::user_subject(user_id))
        .await;
    assert!(
        matches!(
            events.as_slice(),
            [AuthEvent::UserRegistered {
                role: Role::User,
                ..
            }]
        ),
        "{events:?}"
    );
    let phc = auth.sql("SELECT password_hash FROM users");
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");

    let jwks = auth
        .http
        .get(auth.service.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    let jwks: Value = jwks.json().await.expect("json");
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["kid"], auth.keys.signing().0);
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("bob@example.com").await;
    let (status, first) = auth.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let first_token = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    let (status, second) = auth.refresh(&first_token).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_token = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(first_token, second_token);
    let (status, _) = auth
        .me(second["access_token"].as_str().expect("access"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The old token again: theft suspected, the family ends, the newest token dies with it.
    let (status, body) = auth.refresh(&first_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = auth.refresh(&second_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.sql("SELECT revoked_reason FROM sessions"),
        "token_reuse"
    );

    // A new login starts a new family; logout ends it.
    let (_, third) = auth.login("bob@example.com", PASSWORD).await;
    let third_token = third["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let (status, _, headers) = auth
        .post("/api/auth/logout", json!({ "refresh_token": third_token }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cookie.starts_with("refresh_token=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    let (status, _) = auth.refresh(&third_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.sql("SELECT count(*) FROM sessions WHERE revoked_reason = 'logout'"),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_registrations_of_one_email_make_exactly_one_account() {
    let auth = TestAuth::start().expect("auth starts");
    let variants = [
        "carol@example.com",
        "CAROL@example.com",
        " carol@EXAMPLE.com ",
        "\u{FF43}arol@example.com",
    ];
    let attempts = (0..50).map(|i| auth.register(variants[i % variants.len()]));
    let outcomes = futures_util::future::join_all(attempts).await;

    let created = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 49), "{outcomes:?}");
    let conflict = &outcomes
        .iter()
        .find(|(s, _)| *s == StatusCode::CONFLICT)
        .expect("a conflict")
        .1;
    assert_eq!(conflict["error"]["code"], "conflict");

    let hash = auth::email::hash("carol@example.com");
    let claims = auth
        .stream_messages(&contract::auth::email_subject(&hash))
        .await;
    assert_eq!(claims.len(), 1, "one claim on the stream: {claims:?}");
    assert_eq!(auth.sql("SELECT count(*) FROM users"), "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_email_and_wrong_password_answer_identically() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("dave@example.com").await;
    let unknown = auth.login("nobody@example.com", PASSWORD).await;
    let wrong = auth.login("dave@example.com", "not the password").await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, wrong);
    // The failure is an audit event, projected as a counter on the account.
    let counted = devstack::wait::until_async(
        "the failure to be projected",
        Duration::from_secs(10),
        || async { auth.sql("SELECT failed_logins FROM users") == "1" },
    )
    .await;
    assert!(counted.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_400_and_the_service_stays_up() {
    let auth = TestAuth::start().expect("auth starts");
    for (body, expected) in [
        ("{not json", "invalid_json"),
        (r#"{"email": 5, "password": "x"}"#, "invalid_json"),
        (r#"{"email": "a@b.co", "password": "short"}"#, "bad_request"),
        (
            r#"{"email": "no-at-sign", "password": "long enough pass"}"#,
            "bad_request",
        ),
    ] {
        let response = auth
            .http
            .post(auth.service.url("/api/auth/register"))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.expect("json error");
        assert_eq!(answer["error"]["code"], expected, "{body}: {answer}");
    }
    let (status, _) = auth.register("erin@example.com").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_expired_and_misaddressed_tokens_are_refused() {
    let auth = TestAuth::start().expect("auth starts");
    let valid = auth.signed(|_| {});
    // The subject does not exist, so a valid token gets 404, proving the signature passed.
    assert_eq!(auth.me(&valid).await.0, StatusCode::NOT_FOUND);

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (header_b64, payload_b64) = {
        let mut parts = valid.split('.');
        (
            parts.next().expect("header").to_owned(),
            parts.next().expect("payload").to_owned(),
        )
    };
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload_b64).expect("b64")).expect("json");

    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT" }).to_string()),
        payload_b64
    );
    let public_key = URL_SAFE_NO_PAD
        .decode(&auth.keys.jwks().keys.first().expect("a key").x)
        .expect("public key");
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(auth.keys.signing().0.to_owned());
    let hs256_with_public_key = jsonwebtoken::encode(
        &hs_header,
        &payload,
        &EncodingKey::from_secret(&public_key).expect("hmac key"),
    )
    .expect("hs256");
    let tampered = {
        let mut claims = payload.clone();
        claims["role"] = json!("admin");
        claims["sub"] = json!(Uuid::now_v7());
        let signature = valid.rsplit('.').next().expect("signature");
        format!(
            "{header_b64}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    };
    let unknown_kid = {
        let other =
            auth::signing::SigningKeys::from_lines(&auth::signing::generate_line().expect("key"))
                .expect("keys");
        let (kid, key) = other.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &payload, key).expect("signs")
    };

    let cases = [
        ("alg none", alg_none),
        ("HS256 signed with the public key", hs256_with_public_key),
        ("tampered payload", tampered),
        ("unknown kid", unknown_kid),
        (
            "wrong iss",
            auth.signed(|c| c["iss"] = json!("someone-else")),
        ),
        (
            "wrong aud",
            auth.signed(|c| c["aud"] = json!("another-product")),
        ),
        ("expired", auth.signed(|c| c["exp"] = json!(now - 120))),
        (
            "nbf in the future",
            auth.signed(|c| c["nbf"] = json!(now + 600)),
        ),
        (
            "exp as a string",
            auth.signed(|c| c["exp"] = json!((now + 600).to_string())),
        ),
        (
            "no exp",
            auth.signed(|c| {
                c.as_object_mut().expect("object").remove("exp");
            }),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (case, token) in cases {
        let (status, body) = auth.me(&token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_is_applied_once() {
    let auth = TestAuth::start().expect("auth starts");
    let (_, user) = auth.register("frank@example.com").await;
    let user_id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");
    let pool = auth::pool(&PostgresConfig::local(
        auth.db.server().port(),
        &auth.db.name,
        auth.db.server().password(),
    ));
    let last = auth::projector::last_applied(&pool).await.expect("state");
    let failed = AuthEvent::LoginFailed {
        user_id,
        at: time::OffsetDateTime::now_utc(),
    };

    // As if the projector committed sequence `last + 1000` and died before acking: the
    // redelivery of the same sequence changes nothing.
    auth::projector::apply(&pool, last + 1000, &failed)
        .await
        .expect("applies");
    auth::projector::apply(&pool, last + 1000, &failed)
        .await
        .expect("skips");
    assert_eq!(auth.sql("SELECT failed_logins FROM users"), "1");
    assert_eq!(
        auth::projector::last_applied(&pool).await.expect("state"),
        last + 1000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_admin_manages_roles_and_cannot_remove_the_last_admin() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, grace) = auth.register("grace@example.com").await;
    let grace_id = grace["id"].as_str().expect("id").to_owned();
    let user_token = auth.token("grace@example.com").await;

    let (status, _) = auth
        .call(reqwest::Method::GET, "/api/admin/users", &user_token, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a user is not an admin");
    let (status, _) = auth
        .call(reqwest::Method::GET, "/api/admin/users", "garbage", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, page) = auth
        .call(
            reqwest::Method::GET,
            "/api/admin/users?q=GRACE",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["users"][0]["email"], "grace@example.com");
    let (_, everyone) = auth
        .call(reqwest::Method::GET, "/api/admin/users", &admin, None)
        .await;
    assert_eq!(everyone["total"], 2);

    let path = format!("/api/admin/users/{grace_id}");
    let (status, changed) = auth
        .call(
            reqwest::Method::PATCH,
            &path,
            &admin,
            Some(json!({ "role": "analyst" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "analyst");
    let (_, relogin) = auth.login("grace@example.com", PASSWORD).await;
    assert_eq!(relogin["user"]["role"], "analyst");

    let (status, disabled) = auth
        .call(
            reqwest::Method::PATCH,
            &path,
            &admin,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    let (status, refused) = auth.login("grace@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["code"], "account_disabled");
    let (status, _) = auth
        .refresh(relogin["refresh_token"].as_str().expect("token"))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "disabling ended the sessions"
    );

    let (_, me) = auth.me(&admin).await;
    let own = format!("/api/admin/users/{}", me["id"].as_str().expect("id"));
    let (status, body) = auth
        .call(
            reqwest::Method::PATCH,
            &own,
            &admin,
            Some(json!({ "role": "user" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the last admin stays: {body}");
    let (status, _) = auth.call(reqwest::Method::DELETE, &own, &admin, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_parallel_removals_of_the_last_two_admins_leave_exactly_one_admin() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let mut survivor = auth.admin_token("root@example.com").await;
    let (_, me) = auth.me(&survivor).await;
    let mut survivor_id = me["id"].as_str().expect("id").to_owned();
    let active_admins = "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled";
    let mut refusals = Vec::new();
    for round in 0..20 {
        // A second admin, then each of the two removes itself at the same moment: the caller
        // check passes for both, so only the last-admin rule can refuse one.
        let email = format!("admin{round}@example.com");
        let (_, user) = auth.register(&email).await;
        let id = user["id"].as_str().expect("id").to_owned();
        let (status, body) = auth
            .call(
                reqwest::Method::PATCH,
                &format!("/api/admin/users/{id}"),
                &survivor,
                Some(json!({ "role": "admin" })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        let token = auth.token(&email).await;
        let (method, body) = match round % 3 {
            0 => (reqwest::Method::PATCH, Some(json!({ "role": "analyst" }))),
            1 => (reqwest::Method::PATCH, Some(json!({ "disabled": true }))),
            _ => (reqwest::Method::DELETE, None),
        };
        let (new_path, old_path) = (
            format!("/api/admin/users/{id}"),
            format!("/api/admin/users/{survivor_id}"),
        );
        let (new_admin, old_admin) = tokio::join!(
            auth.call(method, &new_path, &token, body),
            auth.call(
                reqwest::Method::PATCH,
                &old_path,
                &survivor,
                Some(json!({ "role": "user" })),
            ),
        );
        let statuses = [new_admin.0, old_admin.0];
        let succeeded = statuses.iter().filter(|s| s.is_success()).count();
        assert_eq!(
            succeeded, 1,
            "round {round}: exactly one removal succeeds: {new_admin:?} {old_admin:?}"
        );
        let refused = if new_admin.0.is_success() {
            &old_admin
        } else {
            &new_admin
        };
        assert_eq!(
            refused.0,
            StatusCode::CONFLICT,
            "round {round}: {refused:?}"
        );
        refusals.push(refused.1["error"]["message"].clone());
        assert_eq!(auth.sql(active_admins), "1", "round {round}");
        // The one whose removal was refused is the admin of the next round.
        if old_admin.0.is_success() {
            survivor = token;
            survivor_id = id;
        }
    }
    assert!(
        refusals
            .iter()
            .all(|message| message.as_str().is_some_and(|m| m.contains("last admin"))),
        "{refusals:?}"
    );

    // The guard's messages change nothing a rebuild would see differently.
    let js = auth.js().await;
    let last = js
        .get_stream("AUTH")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .last_sequence;
    let pool = auth.pool();
    devstack::wait::until_async("projection caught up", Duration::from_secs(10), || async {
        auth::projector::last_applied(&pool)
            .await
            .is_ok_and(|l| l >= last)
    })
    .await
    .expect("caught up");
    let live = auth.dump();
    auth::rebuild::rebuild(&js, &pool, |_, _| {})
        .await
        .expect("rebuilds");
    assert_eq!(auth.dump(), live, "rebuild equals live");
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_get_write_keys_that_can_be_added_and_revoked() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (status, project) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Shop", "timezone": "Europe/Paris" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    assert_eq!(project["timezone"], "Europe/Paris");
    let first_key = project["write_key"].as_str().expect("write key").to_owned();
    assert!(
        first_key.starts_with("ea_") && first_key.len() > 30,
        "{first_key}"
    );
    let id = project["id"].as_str().expect("id").to_owned();

    let (status, second) = auth
        .call(
            reqwest::Method::POST,
            &format!("/api/admin/projects/{id}/keys"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][0]["id"],
        contract::BUILTIN_PROJECT_ID.to_string(),
        "the built-in project exists from the start"
    );
    let keys = listed["projects"][1]["keys"]
        .as_array()
        .expect("keys")
        .clone();
    assert_eq!(keys.len(), 2, "{listed}");
    let first_id = keys[0]["id"].as_str().expect("key id").to_owned();
    assert_eq!(keys[0]["key"], first_key.as_str());

    let (status, _) = auth
        .call(
            reqwest::Method::DELETE,
            &format!("/api/admin/projects/{id}/keys/{first_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(listed["projects"][1]["keys"], json!([second.clone()]));

    let (status, domains) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{id}/domains"),
            &admin,
            Some(json!({ "domains": ["Shop.Example.", "shop.example", "www.shop.example"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{domains}");
    assert_eq!(
        domains["domains"],
        json!(["shop.example", "www.shop.example"])
    );
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][1]["domains"],
        json!(["shop.example", "www.shop.example"])
    );
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{id}/domains"),
            &admin,
            Some(json!({ "domains": ["not a domain/"] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Bad", "timezone": "Mars; DROP TABLE" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_sets_a_projects_own_quota_which_is_published_and_listed() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, project) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Busy" })),
        )
        .await;
    let id = project["id"].as_str().expect("id").to_owned();
    let quota_path = format!("/api/admin/projects/{id}/quota");

    let (status, set) = auth
        .call(
            reqwest::Method::PUT,
            &quota_path,
            &admin,
            Some(json!({ "events_per_second": 50, "bytes_per_second": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        set,
        json!({ "id": id, "events_per_second": 50, "bytes_per_second": null })
    );
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][1]["quota"],
        json!({ "events_per_second": 50, "bytes_per_second": null }),
        "{listed}"
    );
    assert_eq!(
        listed["projects"][0]["quota"],
        json!({ "events_per_second": null, "bytes_per_second": null }),
        "the built-in project keeps the defaults"
    );
    // What ingest follows: the event on the project's subject.
    let stored = auth
        .js()
        .await
        .get_stream("AUTH")
        .await
        .expect("stream")
        .get_last_raw_message_by_subject(&format!("auth.project.{id}"))
        .await
        .expect("the quota event");
    let event: AuthEvent = serde_json::from_slice(&stored.payload).expect("an auth event");
    assert!(
        matches!(
            event,
            AuthEvent::ProjectQuotaSet {
                events_per_second: Some(50),
                bytes_per_second: None,
                by: Some(_),
                ..
            }
        ),
        "{event:?}"
    );

    for (body, code) in [
        (json!({ "events_per_second": 0 }), "bad_request"),
        (json!({ "bytes_per_second": -5 }), "invalid_json"),
        (json!({ "events_per_second": "many" }), "invalid_json"),
    ] {
        let (status, error) = auth
            .call(
                reqwest::Method::PUT,
                &quota_path,
                &admin,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{error}");
    }
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{}/quota", Uuid::now_v7()),
            &admin,
            Some(json!({ "events_per_second": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    auth.register("user@example.com").await;
    let (_, session) = auth.login("user@example.com", PASSWORD).await;
    let user = session["access_token"].as_str().expect("token").to_owned();
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &quota_path,
            &user,
            Some(json!({ "events_per_second": 5 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The route and its body are in the API description edge merges.
    let document: Value = auth
        .http
        .get(auth.service.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let operation = &document["paths"]["/api/admin/projects/{id}/quota"]["put"];
    assert!(operation["responses"]["200"].is_object(), "{operation}");
    assert!(
        document["components"]["schemas"]["ProjectQuota"]["properties"]["events_per_second"]
            .is_object(),
        "{}",
        document["components"]["schemas"]
    );

    // Both null: back to the defaults.
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &quota_path,
            &admin,
            Some(json!({ "events_per_second": null, "bytes_per_second": null })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = auth
        .call(reqwest::Method::GET, "/api/admin/projects", &admin, None)
        .await;
    assert_eq!(
        listed["projects"][1]["quota"],
        json!({ "events_per_second": null, "bytes_per_second": null })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_equals_the_live_projection_and_an_erased_user_leaves_no_trace() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    for name in ["heidi", "ivan", "judy"] {
        auth.register(&format!("{name}@example.com")).await;
    }
    let (_, session) = auth.login("ivan@example.com", PASSWORD).await;
    let (_, refreshed) = auth
        .refresh(session["refresh_token"].as_str().expect("token"))
        .await;
    assert!(refreshed["access_token"].is_string(), "{refreshed}");
    auth.login("judy@example.com", "wrong password!").await;
    let (_, site) = auth
        .call(
            reqwest::Method::POST,
            "/api/admin/projects",
            &admin,
            Some(json!({ "name": "Site" })),
        )
        .await;
    let site_id = site["id"].as_str().expect("id").to_owned();
    let (status, _) = auth
        .call(
            reqwest::Method::PUT,
            &format!("/api/admin/projects/{site_id}/quota"),
            &admin,
            Some(json!({ "events_per_second": 20, "bytes_per_second": 4096 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, heidi) = auth.login("heidi@example.com", PASSWORD).await;
    let heidi_id = heidi["user"]["id"].as_str().expect("id").to_owned();

    let (status, _) = auth
        .call(
            reqwest::Method::DELETE,
            &format!("/api/admin/users/{heidi_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        auth.sql("SELECT count(*) FROM users WHERE email LIKE 'heidi%'"),
        "0"
    );
    let (status, _) = auth.login("heidi@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Let the audit events (failed login) settle, then compare a rebuild with the live state.
    let js = auth.js().await;
    let last = js
        .get_stream("AUTH")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .last_sequence;
    let pool = auth.pool();
    devstack::wait::until_async("projection caught up", Duration::from_secs(10), || async {
        auth::projector::last_applied(&pool)
            .await
            .is_ok_and(|l| l >= last)
    })
    .await
    .expect("caught up");
    let live = auth.dump();
    let applied = auth::rebuild::rebuild(&js, &pool, |_, _| {})
        .await
        .expect("rebuilds");
    assert!(applied > 10, "replayed {applied} events");
    assert_eq!(auth.dump(), live, "rebuild equals live");

    // No trace of the erased email: not in Postgres, not in any message on the stream.
    assert!(!live.contains("heidi"), "{live}");
    let stream = js.get_stream("AUTH").await.expect("stream");
    let mut leaked = Vec::new();
    for sequence in 1..=last {
        if let Ok(message) = stream.direct_get(sequence).await
            && String::from_utf8_lossy(&message.payload).contains("heidi")
        {
            leaked.push(sequence);
        }
    }
    assert!(
        leaked.is_empty(),
        "messages still carrying the email: {leaked:?}"
    );
    // The email can be registered again.
    assert_eq!(
        auth.register("heidi@example.com").await.0,
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_eleventh_failed_login_from_one_address_is_refused_there_with_429_and_retry_after() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("mallory@example.com").await;
    for attempt in 1..=10 {
        let (status, body) = auth.login("mallory@example.com", "guess number x").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {body}"
        );
    }
    let response = auth
        .http
        .post(auth.service.url("/api/auth/login"))
        .json(&json!({ "email": "mallory@example.com", "password": PASSWORD }))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    // The lock is this address's on this account: the owner from another address gets in, and
    // that does not unlock the guessing address.
    assert_eq!(
        auth.login_from("203.0.113.7", "mallory@example.com", PASSWORD)
            .await,
        StatusCode::OK,
        "the right password from a clean address"
    );
    assert_eq!(
        auth.login("mallory@example.com", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address stays locked"
    );

    // Another account from elsewhere is not affected by this lock.
    auth.register("trent@example.com").await;
    assert_eq!(
        auth.login("trent@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_from_many_addresses_slow_an_account_down_but_never_lock_out_a_clean_address() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("victim@example.com").await;
    let email = "victim@example.com";
    // Twelve failures from four addresses: none of them is locked by its own three, but the
    // account is now under attack.
    for host in 1..=4 {
        let address = format!("198.51.100.{host}");
        for attempt in 1..=3 {
            assert_eq!(
                auth.login_from(&address, email, "wrong guess").await,
                StatusCode::UNAUTHORIZED,
                "{address}, attempt {attempt}"
            );
        }
    }
    // Under attack each address gets three failures, then waits, the right password included.
    assert_eq!(
        auth.login_from("198.51.100.1", email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "an address with three failures on an account under attack"
    );
    for attempt in 1..=3 {
        assert_eq!(
            auth.login_from("198.51.100.50", email, "wrong guess").await,
            StatusCode::UNAUTHORIZED,
            "a fresh address, attempt {attempt}"
        );
    }
    assert_eq!(
        auth.login_from("198.51.100.50", email, "wrong guess").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a fresh address after its three"
    );
    // An IPv6 client counts as its /64: another address in it is not a fresh start.
    for _ in 1..=3 {
        auth.login_from("2001:db8:7:7::1", email, "wrong guess")
            .await;
    }
    assert_eq!(
        auth.login_from("2001:db8:7:7::2", email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same /64"
    );
    // The owner from an address with no failures gets in, and so does another /64.
    assert_eq!(
        auth.login_from("198.51.100.99", email, PASSWORD).await,
        StatusCode::OK,
        "a clean address"
    );
    assert_eq!(
        auth.login_from("2001:db8:7:8::1", email, PASSWORD).await,
        StatusCode::OK,
        "a clean /64"
    );
    // A success forgives that address's own typos on the account.
    assert_eq!(
        auth.login_from("198.51.100.98", email, "typo").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.login_from("198.51.100.98", email, PASSWORD).await,
        StatusCode::OK
    );
    for attempt in 1..=3 {
        assert_eq!(
            auth.login_from("198.51.100.98", email, "typo").await,
            StatusCode::UNAUTHORIZED,
            "typo {attempt} after the success"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_every_session_and_the_old_password() {
    let auth = TestAuth::start().expect("auth starts");
    auth.register("oscar@example.com").await;
    let (_, session) = auth.login("oscar@example.com", PASSWORD).await;
    let access = session["access_token"].as_str().expect("access").to_owned();
    let refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    let (status, body) = auth
        .call(
            reqwest::Method::POST,
            "/api/auth/password",
            &access,
            Some(json!({ "current_password": "not it at all", "new_password": "a brand new secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = auth
        .call(
            reqwest::Method::POST,
            "/api/auth/password",
            &access,
            Some(json!({ "current_password": PASSWORD, "new_password": "a brand new secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    assert_eq!(
        auth.refresh(&refresh).await.0,
        StatusCode::UNAUTHORIZED,
        "sessions ended"
    );
    assert_eq!(
        auth.login("oscar@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.login("oscar@example.com", "a brand new secret")
            .await
            .0,
        StatusCode::OK
    );
}
