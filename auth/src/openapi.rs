//! Auth's part of the public API description, generated from the handlers' annotations and the
//! contract's types; edge merges it into `/api/openapi.json`.

use crate::routes::{
    account, annotations, api_keys, dashboards, history, insights, invites, jwks, keys, members,
    password_resets, projects, session, shares, users,
};

#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(
        account::register,
        session::login,
        session::refresh,
        session::logout,
        account::me,
        account::change_password,
        password_resets::reset_password,
        jwks::jwks,
        users::list_users,
        users::update_user,
        users::erase_user,
        password_resets::issue_password_reset,
        projects::create_project,
        projects::list_projects,
        projects::get_project,
        projects::list_project_summaries,
        projects::set_domains,
        projects::set_quota,
        projects::set_retention,
        history::project_audit,
        keys::issue_key,
        keys::revoke_key,
        members::list_members,
        members::set_member,
        members::remove_member,
        annotations::list_annotations,
        annotations::create_annotation,
        annotations::update_annotation,
        annotations::delete_annotation,
        invites::list_invites,
        invites::create_invite,
        invites::revoke_invite,
        invites::accept_invite,
        api_keys::create_api_key,
        api_keys::list_api_keys,
        api_keys::revoke_api_key,
        insights::list_insights,
        insights::create_insight,
        insights::get_insight,
        insights::update_insight,
        insights::delete_insight,
        dashboards::list_dashboards,
        dashboards::create_dashboard,
        dashboards::get_dashboard,
        dashboards::update_dashboard,
        dashboards::delete_dashboard,
        shares::list_shares,
        shares::create_share,
        shares::revoke_share,
    ),
    tags(
        (name = "auth", description = "Accounts, sessions and the caller's API keys"),
        (name = "projects", description = "What a project's members share: its notes, saved insights, dashboards and their shared links"),
        (name = "admin", description = "Users and projects (instance admins), and a project's keys, domains and members (its admins too)"),
    )
)]
pub(crate) struct ApiDoc;
