//! Accounts: registration and `me`, the unique email under concurrency, input checks, and
//! the password change.

use contract::auth::{AuthEvent, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestAuth};

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
        .get(auth.service().url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    let jwks: Value = jwks.json().await.expect("json");
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["kid"], auth.keys.signing().0);
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
            .post(auth.service().url("/api/auth/register"))
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
