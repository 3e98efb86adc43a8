//! The roles a member can have, as the role selects offer and name them.

use contract::auth::ProjectRole;

/// The roles a member can have, least first.
pub(crate) const ROLES: [ProjectRole; 3] = [
    ProjectRole::Viewer,
    ProjectRole::Analyst,
    ProjectRole::Admin,
];

pub(crate) fn role_label(role: ProjectRole) -> &'static str {
    match role {
        ProjectRole::Viewer => "Viewer",
        ProjectRole::Analyst => "Analyst",
        ProjectRole::Admin => "Admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_a_label_and_parses_back() {
        for role in ROLES {
            assert_eq!(role.as_str().parse(), Ok(role));
            assert_eq!(role_label(role).to_lowercase(), role.as_str());
        }
    }
}
