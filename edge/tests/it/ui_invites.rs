//! Project invites in the admin panel against the real stack through edge, in headless
//! Chromium: an admin invites an email with the Members section's form and reads the link it
//! shows once; the invited person opens it signed out, registers and comes back to it, and
//! joins the project with the invited role; the link then works no more, nor does one revoked
//! from the pending list.

use devstack::browser::Browser;
use devstack::stack::{ADMIN, PASSWORD, TestStack};
use devstack::test::{ServiceHandle, TempDir};
use serde_json::Value;

use crate::browser::{
    WAIT, eval, exists, screenshot, sign_in, wait_for, wait_for_none, wait_for_path,
    wait_for_sign_in_form,
};

const CAROL: &str = "carol@example.com";
const CAROL_PASSWORD: &str = "a long enough password";
const PROJECT: &str = "Garden centre";
const NO_LONGER_VALID: &str = "This invite link is no longer valid";

/// `GET path` through edge as `token`, expecting a 200: the answer's JSON.
async fn get(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    token: &str,
    path: &str,
) -> anyhow::Result<Value> {
    let (status, body) = crate::helpers::call(
        http,
        reqwest::Method::GET,
        edge.url(path),
        Some(token),
        None,
    )
    .await?;
    anyhow::ensure!(status == 200, "GET {path}: {status} {body}");
    Ok(body)
}

/// The pending invites of `project` as the API lists them: id, email and role.
async fn api_invites(
    http: &reqwest::Client,
    edge: &ServiceHandle,
    token: &str,
    project: &str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let body = get(
        http,
        edge,
        token,
        &format!("/api/admin/projects/{project}/invites"),
    )
    .await?;
    let field = |invite: &Value, name: &str| invite[name].as_str().unwrap_or_default().to_owned();
    Ok(body["invites"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| (field(i, "id"), field(i, "email"), field(i, "role")))
        .collect())
}

/// Invites `email` as `role` with the form of the open members section `section`: the link it
/// shows (checked to be this server's `/invite/…`) and the invite's id as the API lists it.
async fn invite_through_the_form(
    admin: &Browser,
    http: &reqwest::Client,
    edge: &ServiceHandle,
    (token, project): (&str, &str),
    (email, role): (&str, &str),
) -> anyhow::Result<(String, String)> {
    let section = format!("#members-{project}");
    let form = format!("#invite-{project}");
    wait_for(admin, &format!("{form} input.invite-email"))?;
    admin.type_into(&format!("{form} input.invite-email"), email)?;
    admin.click(&format!(
        "{form} select.invite-role option[value=\"{role}\"]"
    ))?;
    admin.click(&format!("{form} button.invite-send"))?;
    let link_css = format!("{section} input.invite-link");
    let mut link = String::new();
    devstack::wait::until("the invite's link", WAIT, || {
        link = eval(
            admin,
            &format!("document.querySelector({link_css:?})?.value ?? ''"),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned();
        link.contains("/invite/")
    })?;
    assert!(
        link.starts_with(&edge.url("/invite/")),
        "a link to this server: {link}"
    );
    assert!(
        !exists(admin, &format!("{section} .invite-error")),
        "no error"
    );
    let invites = api_invites(http, edge, token, project).await?;
    let Some((id, _, listed_role)) = invites.into_iter().find(|(_, e, _)| e == email) else {
        anyhow::bail!("the API lists no invite for {email}");
    };
    assert_eq!(listed_role, role);
    let row = format!("{section} li[data-invite=\"{id}\"]");
    admin.wait_for_text(&row, email, WAIT)?;
    Ok((link, id))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invited_person_registers_through_the_link_and_joins_with_the_invited_role()
-> anyhow::Result<()> {
    let stack = TestStack::builder().everything().start()?;
    let edge = stack.edge(|_| {})?;
    let http = reqwest::Client::new();
    let admin_token = devstack::test::access_token(edge.addr.port(), ADMIN, PASSWORD, WAIT)?;
    let (project, _) = crate::helpers::create_project(&http, &edge, &admin_token, PROJECT).await?;
    let api = (admin_token.as_str(), project.as_str());

    // The admin opens the project's members, where the invite form is.
    let admin_dir = TempDir::new("chromium-admin")?;
    let admin = Browser::start(admin_dir.path())?;
    admin.goto(&edge.url("/login"))?;
    wait_for_sign_in_form(&admin)?;
    sign_in(&admin, ADMIN, PASSWORD)?;
    admin.wait_for_text("#signed-in-as", "Admin", WAIT)?;
    admin.goto(&edge.url("/admin?tab=projects"))?;
    let section = format!("#members-{project}");
    wait_for(&admin, &section)?;
    admin.click(&format!("{section} summary"))?;

    // An invite revoked from the pending list leaves it and the API's.
    let (revoked_link, revoked) =
        invite_through_the_form(&admin, &http, &edge, api, (CAROL, "analyst")).await?;
    admin.click(&format!(
        "{section} li[data-invite=\"{revoked}\"] button.invite-revoke"
    ))?;
    wait_for_none(&admin, &format!("{section} li[data-invite=\"{revoked}\"]"))?;
    wait_for_none(&admin, &format!("{section} input.invite-link"))?;
    assert_eq!(api_invites(&http, &edge, api.0, api.1).await?, []);

    // Carol is invited as a viewer; the link shows once, with when it expires.
    let (link, _) = invite_through_the_form(&admin, &http, &edge, api, (CAROL, "viewer")).await?;
    let note = admin
        .text(&format!("{section} .invite-note"))?
        .unwrap_or_default();
    assert!(
        note.contains("shown only once") && note.contains("expires on"),
        "{note}"
    );
    admin.execute(&format!(
        "document.querySelector('#invites-{project}').scrollIntoView({{ block: 'center' }})"
    ))?;
    let shot = screenshot(&admin, "invites", 1280)?;

    // Carol opens it signed out: the sign-in form says why, she registers instead and comes
    // back to the link, which makes her a viewer.
    let path = link.trim_start_matches(&edge.url(""));
    let carol_dir = TempDir::new("chromium-carol")?;
    let carol = Browser::start(carol_dir.path())?;
    carol.goto(&link)?;
    wait_for_sign_in_form(&carol)?;
    wait_for(&carol, "#invite-note")?;
    carol.click("#to-register")?;
    carol.wait_for_text("#register-submit", "Create account", WAIT)?;
    carol.type_into("#register-email", CAROL)?;
    carol.type_into(
        "#register-password",
        &format!("{CAROL_PASSWORD}{}", Browser::ENTER),
    )?;
    carol.wait_for_text(
        "#invite-accepted",
        &format!("You are now a viewer of {PROJECT}."),
        WAIT,
    )?;
    wait_for_path(&carol, path)?;
    assert!(exists(&carol, "#invite-accepted a[href=\"/analytics\"]"));
    let members = get(
        &http,
        &edge,
        api.0,
        &format!("/api/admin/projects/{project}/members"),
    )
    .await?;
    let listed: Vec<(&str, &str)> = members["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let field = |name: &str| m[name].as_str().unwrap_or_default();
            (field("email"), field("role"))
        })
        .collect();
    assert_eq!(listed, [(CAROL, "viewer")]);
    assert_eq!(api_invites(&http, &edge, api.0, api.1).await?, [], "used");

    // The link works once; the revoked one never again.
    for used in [&link, &revoked_link] {
        carol.goto(used)?;
        carol.wait_for_text("#invite-error", NO_LONGER_VALID, WAIT)?;
        assert!(!exists(&carol, "#invite-accepted"), "{used}");
    }
    println!("screenshot: {}", shot.display());
    Ok(())
}
