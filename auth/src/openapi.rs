//! Auth's part of the public API description, generated from the handlers' annotations and the
//! contract's types; edge merges it into `/api/openapi.json`.

use crate::routes::{account, jwks, keys, projects, session, users};

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
    ),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "admin", description = "Users, projects and write keys (role admin)"),
    )
)]
pub(crate) struct ApiDoc;
