//! Failed-login limits: per address and per account, with `Retry-After`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestAuth};

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
        .post(auth.service().url("/api/auth/login"))
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
