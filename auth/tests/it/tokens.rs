//! Access tokens: every way a forged, expired or misaddressed token must fail.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestAuth;

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
