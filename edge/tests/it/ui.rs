//! The web app against the real stack through edge, in headless Chromium: signing up, in and
//! out, the session kept across reloads by the refresh cookie, access tokens replaced before
//! they expire, and the errors a person sees.

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::TempDir;

use crate::browser::{
    WAIT, calls_to, path, screenshot, sign_in, wait_for_calls, wait_for_path, wait_for_sign_in_form,
};
use crate::helpers::signing_keys;

const EMAIL: &str = "ada@example.com";
const NAME: &str = "Ada Lovelace";
const ADA_PASSWORD: &str = "analytical engine 1843";

#[test]
fn a_visitor_signs_up_stays_signed_in_across_a_reload_signs_out_and_in_and_sees_clear_errors()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let dir = TempDir::new("chromium")?;
    let browser = Browser::start(dir.path())?;

    // A visitor of home is sent to the sign-in form.
    browser.goto(&edge.url("/"))?;
    wait_for_sign_in_form(&browser)?;
    browser.wait_for_text("#product-name", "Event Analytics", WAIT)?;
    let mut shots = vec![
        screenshot(&browser, "login", 1280)?,
        screenshot(&browser, "login", 390)?,
    ];

    // Sign up through the form, submitted with Enter: signed in, at home.
    browser.click("#to-register")?;
    browser.wait_for_text("#register-submit", "Create account", WAIT)?;
    wait_for_path(&browser, "/register")?;
    browser.type_into("#register-name", NAME)?;
    browser.type_into("#register-email", EMAIL)?;
    browser.type_into(
        "#register-password",
        &format!("{ADA_PASSWORD}{}", Browser::ENTER),
    )?;
    let signed_in = browser.wait_for_text("#signed-in-as", NAME, WAIT)?;
    assert!(signed_in.contains("User"), "the role shows: {signed_in}");
    wait_for_path(&browser, "/")?;
    browser.wait_for_text("#account-summary", EMAIL, WAIT)?;
    browser.wait_for_text("#product-name", "Event Analytics", WAIT)?;
    // A user's navigation: the dashboard and analytics (of the projects they are a member of),
    // not what admins see.
    assert_eq!(
        browser.text("#nav-dashboard")?.as_deref(),
        Some("Dashboard")
    );
    assert_eq!(
        browser.text("#nav-analytics")?.as_deref(),
        Some("Analytics")
    );
    assert_eq!(browser.text("#nav-admin")?, None);
    shots.push(screenshot(&browser, "home", 390)?);
    shots.push(screenshot(&browser, "home", 1280)?);

    // The access token is kept in memory only, and the refresh cookie is out of the page's
    // reach (httpOnly).
    let stored = browser.execute("return localStorage.length + sessionStorage.length")?;
    assert_eq!(stored, 0, "nothing in web storage");
    let cookies = browser.execute("return document.cookie")?;
    assert!(
        !cookies.as_str().unwrap_or_default().contains("refresh"),
        "{cookies}"
    );

    // A reload keeps the session: the app trades the cookie for a new access token.
    browser.refresh()?;
    browser.wait_for_text("#signed-in-as", NAME, WAIT)?;
    wait_for_path(&browser, "/")?;
    wait_for_calls(&browser, "/api/auth/refresh", &[200])?;

    // Signing out lands on the sign-in form, and a reload stays signed out (cookie cleared).
    browser.click("#sign-out")?;
    wait_for_sign_in_form(&browser)?;
    browser.goto(&edge.url("/"))?;
    wait_for_sign_in_form(&browser)?;
    wait_for_calls(&browser, "/api/auth/refresh", &[401])?;
    assert_eq!(browser.text("#signed-in-as")?, None);

    // Signing in again, with the button.
    sign_in(&browser, EMAIL, ADA_PASSWORD)?;
    browser.wait_for_text("#signed-in-as", NAME, WAIT)?;
    wait_for_path(&browser, "/")?;

    // A wrong password says so, and the form can be used again.
    browser.click("#sign-out")?;
    wait_for_sign_in_form(&browser)?;
    browser.type_into("#login-email", EMAIL)?;
    browser.type_into(
        "#login-password",
        &format!("not the password{}", Browser::ENTER),
    )?;
    browser.wait_for_text("#login-error", "Wrong email or password", WAIT)?;
    browser.wait_for_text("#login-submit", "Sign in", WAIT)?;
    assert_eq!(
        browser.execute("return document.querySelector('#login-submit').disabled")?,
        false
    );
    assert_eq!(path(&browser)?, "/login");

    // Registering the same email again says it is taken.
    browser.click("#to-register")?;
    browser.wait_for_text("#register-submit", "Create account", WAIT)?;
    browser.type_into("#register-email", EMAIL)?;
    browser.type_into(
        "#register-password",
        &format!("{ADA_PASSWORD}{}", Browser::ENTER),
    )?;
    browser.wait_for_text("#register-error", "This email is already registered", WAIT)?;
    assert_eq!(path(&browser)?, "/register");

    // Rate limited: behind an edge allowing one login per account a minute, the second
    // attempt names the wait.
    let strict = stack.edge(|config| {
        config.limits.auth_per_account = plumbing::ratelimit::Rate::per_minute(1);
    })?;
    browser.goto(&strict.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, EMAIL, "not the password")?;
    browser.wait_for_text("#login-error", "Wrong email or password", WAIT)?;
    browser.click("#login-submit")?;
    let limited = browser.wait_for_text("#login-error", "Too many attempts", WAIT)?;
    let seconds: u64 = limited
        .trim_start_matches("Too many attempts, try again in ")
        .trim_end_matches(" seconds")
        .trim_end_matches(" second")
        .parse()
        .map_err(|err| anyhow::anyhow!("{limited:?} names no wait: {err}"))?;
    assert!((1..=60).contains(&seconds), "{limited}");

    for shot in &shots {
        eprintln!("screenshot: {}", shot.display());
    }
    Ok(())
}

#[test]
fn access_tokens_are_replaced_before_they_expire_and_the_session_outlives_many_of_them()
-> anyhow::Result<()> {
    // Access tokens for 4 s (edge allows 5 s of clock skew on top): the app must replace each
    // one in time for calls to keep working without signing in again.
    let stack = TestStack::builder()
        .everything()
        .configure_auth(|auth| auth.tokens.access_ttl_secs = 4)
        .start()?;
    let edge = stack.edge(|_| {})?;
    let dir = TempDir::new("chromium")?;
    let browser = Browser::start(dir.path())?;

    browser.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    // At start, no session yet.
    wait_for_calls(&browser, "/api/auth/refresh", &[401])?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    assert_eq!(browser.text("#nav-admin")?.as_deref(), Some("Admin"));

    // Four refreshes: some 12 s, three times the life of one token, and beyond the first
    // token's leeway.
    let mut refreshes = Vec::new();
    devstack::wait::until("four silent refreshes", WAIT, || {
        refreshes = calls_to(&browser, "/api/auth/refresh").unwrap_or_default();
        refreshes.len() > 4
    })?;
    assert!(refreshes[1..].iter().all(|&s| s == 200), "{refreshes:?}");
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    // A new token changes nothing on screen: home was not rendered (and did not ask auth) again.
    assert_eq!(calls_to(&browser, "/api/auth/me")?, [200]);

    // A call made now still carries a good token: home asks auth who is signed in.
    browser.click("#nav-dashboard")?;
    browser.wait_for_text("#dashboard-page h2", "Dashboard", WAIT)?;
    browser.click("#nav-home")?;
    wait_for_calls(&browser, "/api/auth/me", &[200, 200])?;

    // The rotated cookie is still the session: a reload keeps it.
    browser.refresh()?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    wait_for_path(&browser, "/")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_refused_for_its_token_is_retried_once_with_a_fresh_one() -> anyhow::Result<()> {
    let mut stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let dir = TempDir::new("chromium")?;
    let browser = Browser::start(dir.path())?;

    browser.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&browser)?;
    sign_in(&browser, ADMIN, PASSWORD)?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    wait_for_calls(&browser, "/api/auth/me", &[200])?;
    // Home's page view went out with that token too: nothing waits to be sent.
    wait_for_calls(&browser, "/api/events", &[200])?;

    // Auth starts again with a new signing key only: the token the page holds is refused from
    // now on, though the session (the refresh cookie) is as good as before.
    stack.restart_auth(signing_keys(auth::signing::generate_line()?))?;
    // Edge fetches auth's keys again when a token names one it does not know, and the token
    // waits for that fetch: the first call with a token signed by the new key is accepted, and
    // from then on edge no longer knows the old key. (Ingest has not fetched again yet: it
    // still knows the old key, not the new one.)
    let fresh = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let me = reqwest::Client::new()
        .get(edge.url("/api/auth/me"))
        .bearer_auth(&fresh)
        .send()
        .await?;
    assert_eq!(me.status(), 200, "the new key is accepted on its first use");

    // The dashboard's page view is the first call with the old token: refused, the page
    // refreshes once and sends it again, and ingest, seeing the new key for the first time,
    // fetches it and takes the event.
    browser.click("#nav-dashboard")?;
    browser.wait_for_text("#dashboard-page h2", "Dashboard", WAIT)?;
    wait_for_calls(&browser, "/api/events", &[200, 401, 200])?;
    // Home then asks auth who is signed in with the fresh token.
    browser.click("#nav-home")?;
    wait_for_calls(&browser, "/api/auth/me", &[200, 200])?;
    // One refresh at start (no session yet), one for the refused call.
    wait_for_calls(&browser, "/api/auth/refresh", &[401, 200])?;
    browser.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    wait_for_path(&browser, "/")?;
    Ok(())
}
