//! Pure rules of who may act where: roles scoped to an org subtree.

use serde::{Deserialize, Serialize};

/// A staff role. `organizer` and `org_admin` hold for an org and all its descendants;
/// `platform_admin` holds everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Organizer,
    OrgAdmin,
    PlatformAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Organizer => "organizer",
            Role::OrgAdmin => "org_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "organizer" => Some(Role::Organizer),
            "org_admin" => Some(Role::OrgAdmin),
            "platform_admin" => Some(Role::PlatformAdmin),
            _ => None,
        }
    }

    /// Whether holding `self` is enough where `required` is asked for: an org_admin can do
    /// what an organizer can, a platform admin anything.
    pub fn satisfies(self, required: Role) -> bool {
        match self {
            Role::PlatformAdmin => true,
            Role::OrgAdmin => matches!(required, Role::OrgAdmin | Role::Organizer | Role::Member),
            Role::Organizer => matches!(required, Role::Organizer | Role::Member),
            Role::Member => required == Role::Member,
        }
    }
}

/// A role a user holds, with the materialized path of its org (`/1/4/`), None for
/// platform-wide roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub org_path: Option<String>,
}

/// Does any grant give `required` in the org whose path is `target_path`? A scoped grant
/// covers its org and every descendant (paths that start with its own).
pub fn allows(grants: &[Grant], target_path: &str, required: Role) -> bool {
    grants.iter().any(|g| {
        g.role.satisfies(required)
            && match (&g.role, &g.org_path) {
                (Role::PlatformAdmin, _) => true,
                (_, Some(path)) => target_path.starts_with(path.as_str()),
                (_, None) => false,
            }
    })
}

pub fn is_platform_admin(grants: &[Grant]) -> bool {
    grants.iter().any(|g| g.role == Role::PlatformAdmin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role, path: Option<&str>) -> Grant {
        Grant {
            role,
            org_path: path.map(Into::into),
        }
    }

    #[test]
    fn scoped_roles_cover_their_subtree_only() {
        // 乐陵市总工会 = /2/, a grassroots union under it = /2/7/, 诸城市总工会 = /1/
        let admin_of_laoling = [grant(Role::OrgAdmin, Some("/2/"))];
        assert!(allows(&admin_of_laoling, "/2/", Role::OrgAdmin));
        assert!(allows(&admin_of_laoling, "/2/7/", Role::OrgAdmin));
        assert!(allows(&admin_of_laoling, "/2/7/", Role::Organizer));
        assert!(!allows(&admin_of_laoling, "/1/", Role::OrgAdmin));
        // '/2/' must not cover '/21/'.
        assert!(!allows(&admin_of_laoling, "/21/", Role::OrgAdmin));

        let organizer = [grant(Role::Organizer, Some("/2/7/"))];
        assert!(allows(&organizer, "/2/7/", Role::Organizer));
        assert!(!allows(&organizer, "/2/7/", Role::OrgAdmin));
        assert!(!allows(&organizer, "/2/", Role::Organizer));

        let platform = [grant(Role::PlatformAdmin, None)];
        assert!(allows(&platform, "/9/9/", Role::OrgAdmin));
        assert!(!allows(&[], "/2/", Role::Organizer));
    }
}
