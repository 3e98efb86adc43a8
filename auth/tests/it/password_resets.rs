//! Password-reset links: an instance admin issues one for a user, who sets a new password with
//! it once, signed out; their sessions end with the old password.

use std::time::Duration;

use contract::auth::AuthEvent;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{PASSWORD, Rebuilt, TestAuth};

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, dave) = auth.register("dave@example.com").await;
    let dave_id = dave["id"].as_str().expect("id").to_owned();
    let (status, session) = auth.login("dave@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let old_refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let dave_token = session["access_token"].as_str().expect("access").to_owned();
    let issue = format!("/api/admin/users/{dave_id}/password-reset");

    // Only instance admins issue links, for users that exist.
    let (status, refused) = auth.call(Method::POST, &issue, &dave_token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, _) = auth
        .call(
            Method::POST,
            &format!("/api/admin/users/{}/password-reset", Uuid::now_v7()),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, link) = auth.call(Method::POST, &issue, &admin, None).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let token = link["token"].as_str().expect("token").to_owned();
    assert_eq!(link["link"], format!("/reset/{token}"));
    let expires = OffsetDateTime::parse(
        link["expires_at"].as_str().expect("expires_at"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("rfc 3339");
    let hours = (expires - OffsetDateTime::now_utc()).whole_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{link}");

    let reset = {
        let auth = &auth;
        move |token: &str, password: &str| {
            let body = json!({ "token": token, "password": password });
            async move { auth.post("/api/auth/password-reset", body).await }
        }
    };
    // A password the rules refuse leaves the link for another try.
    let (status, short, _) = reset(&token, "short").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{short}");
    let (status, used, _) = reset(&token, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{used}");

    assert_eq!(
        auth.login("dave@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.login("dave@example.com", NEW_PASSWORD).await.0,
        StatusCode::OK
    );
    let (status, _) = auth.refresh(&old_refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old session ended");
    let (status, again, _) = reset(&token, "yet another passphrase").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
    assert_eq!(
        again["error"]["message"],
        "this reset link is no longer valid"
    );
    let (status, _, _) = reset("made-up", NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // On the stream: the issue (with the token's hash only) and its use, on the link's subject.
    let reset_events = auth.stream_messages("auth.reset.>").await;
    match reset_events.as_slice() {
        [
            AuthEvent::PasswordResetIssued {
                reset_id,
                token_hash,
                ..
            },
            AuthEvent::PasswordResetUsed { reset_id: used, .. },
        ] => {
            assert_eq!(reset_id, used);
            assert_eq!(*token_hash, sha(&token));
        }
        other => panic!("{other:?}"),
    }

    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert!(live.contains(&sha(&token)), "{live}");
    assert_eq!(auth.dump(), live, "rebuild equals live");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_link_and_a_disabled_account_set_no_password() {
    let auth = TestAuth::start_with(Some("root@example.com")).expect("auth starts");
    let admin = auth.admin_token("root@example.com").await;
    let (_, erin) = auth.register("erin@example.com").await;
    let erin_id: Uuid = erin["id"].as_str().expect("id").parse().expect("uuid");

    // A link issued a day and more ago, as the stream would hold it.
    let token = "an-old-link-that-expired";
    let reset_id = Uuid::now_v7();
    let at = OffsetDateTime::now_utc() - time::Duration::hours(30);
    let event = AuthEvent::PasswordResetIssued {
        reset_id,
        user_id: erin_id,
        token_hash: sha(token),
        expires_at: at + time::Duration::hours(24),
        by: erin_id,
        at,
    };
    auth.js()
        .await
        .publish(
            contract::auth::reset_subject(reset_id),
            serde_json::to_vec(&event).expect("json").into(),
        )
        .await
        .expect("published")
        .await
        .expect("stored");
    let pool = auth.pool();
    devstack::wait::until_async(
        "the old link projected",
        Duration::from_secs(10),
        || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM password_resets WHERE id = $1")
                .bind(reset_id)
                .fetch_one(&pool)
                .await
                .is_ok_and(|count| count == 1)
        },
    )
    .await
    .expect("projected");
    let (status, expired, _) = auth
        .post(
            "/api/auth/password-reset",
            json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{expired}");
    assert_eq!(
        auth.login("erin@example.com", PASSWORD).await.0,
        StatusCode::OK
    );

    // A disabled account gets no link, and one issued before it was disabled does nothing.
    let issue = format!("/api/admin/users/{erin_id}/password-reset");
    let (status, link) = auth.call(Method::POST, &issue, &admin, None).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let (status, _) = auth
        .call(
            Method::PATCH,
            &format!("/api/admin/users/{erin_id}"),
            &admin,
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = auth.call(Method::POST, &issue, &admin, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (status, _, _) = auth
        .post(
            "/api/auth/password-reset",
            json!({ "token": link["token"], "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let Rebuilt { live, .. } = auth.rebuild_after_catching_up().await;
    assert_eq!(auth.dump(), live, "rebuild equals live");
}

fn sha(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
