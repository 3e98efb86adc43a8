//! Failed logins through edge cannot lock the owner out: guesses from one address lock that
//! address, never the account, at edge's per-account limit and at auth's failure counters.

use std::net::IpAddr;
use std::time::Duration;

use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::ServiceHandle;
use serde_json::{Value, json};

/// A client whose connections leave from `address` (any of 127.0.0.0/8 on Linux).
fn client_at(address: &str) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>()?)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// `POST /api/auth/login` through edge: the status and the JSON answer.
async fn login(
    client: &reqwest::Client,
    edge: &ServiceHandle,
    password: &str,
) -> anyhow::Result<(u16, Value)> {
    let answer = client
        .post(edge.url("/api/auth/login"))
        .json(&json!({ "email": ADMIN, "password": password }))
        .send()
        .await?;
    let status = answer.status().as_u16();
    Ok((status, answer.json().await.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn eleven_wrong_passwords_from_one_address_leave_the_owner_free_to_sign_in_from_another()
-> anyhow::Result<()> {
    let stack = TestStack::builder().auth().start()?;
    // Edge with its default limits: 10 logins a minute per account and address, 60 per address.
    // Nothing but auth is called here, and edge tells the client its address by the socket.
    let edge = stack.edge(|_| {})?;

    let attacker = client_at("127.0.0.1")?;
    let mut codes = Vec::new();
    for _ in 1..=11 {
        codes.push(login(&attacker, &edge, "a wrong guess").await?.0);
    }
    assert_eq!(codes[..10], [401; 10], "{codes:?}");
    assert_eq!(codes[10], 429, "the eleventh from one address: {codes:?}");
    let (status, body) = login(&attacker, &edge, PASSWORD).await?;
    assert_eq!(
        status, 429,
        "the guessing address waits, right password or not: {body}"
    );

    let owner = client_at("127.0.0.2")?;
    let (status, body) = login(&owner, &edge, PASSWORD).await?;
    assert_eq!(status, 200, "the owner from another address: {body}");
    assert_eq!(body["user"]["email"], ADMIN, "{body}");
    assert_eq!(body["user"]["role"], "admin", "{body}");
    assert!(body["access_token"].is_string(), "{body}");

    // Guesses spread over many addresses put the account under attack (each address then gets
    // three failures on it), yet never stop the owner at a clean address.
    for host in 3..=14 {
        let guesser = client_at(&format!("127.0.0.{host}"))?;
        let (status, body) = login(&guesser, &edge, "a wrong guess").await?;
        assert_eq!(status, 401, "127.0.0.{host}: {body}");
    }
    let (status, body) = login(&client_at("127.0.0.20")?, &edge, PASSWORD).await?;
    assert_eq!(
        status, 200,
        "the owner after guesses from twelve addresses: {body}"
    );
    Ok(())
}
