//! Auth's part of the public API description, generated from the handlers' annotations and the
//! contract's types; edge merges it into `/api/openapi.json`.

use crate::{admin, api, quota};

#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(
        api::register,
        api::login,
        api::refresh,
        api::logout,
        api::me,
        api::change_password,
        api::jwks,
        admin::list_users,
        admin::update_user,
        admin::erase_user,
        admin::create_project,
        admin::list_projects,
        admin::list_project_summaries,
        admin::set_domains,
        quota::set_quota,
        admin::issue_key,
        admin::revoke_key,
    ),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "admin", description = "Users, projects and write keys (role admin)"),
    )
)]
pub struct ApiDoc;
