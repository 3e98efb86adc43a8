//! Project members: who may read or manage a project, and how much. Instance admins (the
//! global `admin` role) see and manage every project without being members.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a member may do on one project: `viewer` reads its analytics, `analyst` also saves
/// insights and dashboards, `admin` also manages the project, its keys, domains and members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    Viewer,
    Analyst,
    Admin,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Analyst => "analyst",
            ProjectRole::Admin => "admin",
        }
    }

    /// Whether this role includes everything `required` may do.
    pub fn includes(self, required: ProjectRole) -> bool {
        self >= required
    }
}

impl std::str::FromStr for ProjectRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(ProjectRole::Viewer),
            "analyst" => Ok(ProjectRole::Analyst),
            "admin" => Ok(ProjectRole::Admin),
            other => Err(format!("unknown project role {other:?}")),
        }
    }
}

/// `auth.project.<project_id>.member.<user_id>`: a member's events, each its own subject so
/// that changing one member never conflicts with the project's other changes.
pub fn member_subject(project_id: Uuid, user_id: Uuid) -> String {
    format!("auth.project.{project_id}.member.{user_id}")
}

/// Body of `PUT /api/admin/projects/{project_id}/members/{user_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetMemberRequest {
    pub role: ProjectRole,
}

/// A member of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: ProjectRole,
}

/// `GET /api/admin/projects/{project_id}/members`: by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectMembers {
    pub members: Vec<MemberView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_includes_analyst_includes_viewer() {
        assert!(ProjectRole::Admin.includes(ProjectRole::Analyst));
        assert!(ProjectRole::Analyst.includes(ProjectRole::Viewer));
        assert!(!ProjectRole::Viewer.includes(ProjectRole::Analyst));
        assert_eq!("analyst".parse(), Ok(ProjectRole::Analyst));
        assert_eq!(ProjectRole::Admin.as_str(), "admin");
    }
}
