//! Auth's part of the public API description, generated from the handlers' annotations and the
//! contract's types; edge merges it into `/api/openapi.json`.

use crate::routes::{account, annotations, invites, jwks, keys, members, projects, session, users};

#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(
        account::register,
        session::login,
        session::refresh,
        session::logout,
        account::me,
        account::change_password,
        jwks::jwks,
        users::list_users,
        users::update_user,
        users::erase_user,
        projects::create_project,
        projects::list_projects,
        projects::list_project_summaries,
        projects::set_domains,
        projects::set_quota,
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
    ),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "projects", description = "What a project's members share: its notes"),
        (name = "admin", description = "Users and projects (instance admins), and a project's keys, domains and members (its admins too)"),
    )
)]
pub(crate) struct ApiDoc;
