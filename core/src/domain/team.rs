//! A host's team (issue 30): who may do what in the studio, as a pure table.
//!
//! A host account is a shop. Its first account is the owner; co-workers join by a one-time
//! invite link with a role. Every studio server function names the [`Permission`] it needs and
//! the server checks it against the caller's [`Role`] with [`allows`]; the client only hides
//! what a role cannot use.

use serde::{Deserialize, Serialize};

/// A team member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including refunds, the team, the audit log and the shop's settings.
    Owner,
    /// The run of show: sessions, products, going live, presenting, orders' fulfilment,
    /// draws and coupons. No refunds, no team, no shop settings.
    Producer,
    /// The chat: host messages, removing messages, mutes, chat rules, held messages,
    /// reports and the pinned note, from a phone.
    Moderator,
    /// Read-only figures.
    Analyst,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Producer, Role::Moderator, Role::Analyst];

    /// The name stored in the database and used in URLs and forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Producer => "producer",
            Role::Moderator => "moderator",
            Role::Analyst => "analyst",
        }
    }

    /// Parses a stored or submitted role name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// The roles an owner may hand out by invite: every role but owner (a shop has one).
    pub fn invitable(self) -> bool {
        self != Role::Owner
    }
}

/// What a studio server function needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read the shop's sessions, a session, its products and run of show.
    ViewShow,
    /// Change sessions, products, variants, images and the run of show; broadcast, go live,
    /// present, mark sold out, end; restream destinations; rehearsals.
    EditShow,
    /// Post as the host, remove messages, mute, chat rules, held messages, reports, pins.
    Moderate,
    /// Start, close and read lucky draws.
    RunDraws,
    /// Drop and withdraw live coupons.
    DropCoupons,
    /// Live figures, the dashboard and the post-show summary.
    ViewFigures,
    /// Orders with their delivery addresses: list, export, ship, import tracking.
    HandleOrders,
    /// Refund an order.
    Refund,
    /// The team, its invites, the audit log and the shop's settings (embed origins).
    ManageShop,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::ViewShow,
        Permission::EditShow,
        Permission::Moderate,
        Permission::RunDraws,
        Permission::DropCoupons,
        Permission::ViewFigures,
        Permission::HandleOrders,
        Permission::Refund,
        Permission::ManageShop,
    ];
}

/// Whether `role` may do what `permission` covers. The one table of the studio's rights.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Owner => true,
        Role::Producer => matches!(
            permission,
            ViewShow | EditShow | RunDraws | DropCoupons | ViewFigures | HandleOrders
        ),
        Role::Moderator => matches!(permission, ViewShow | Moderate),
        Role::Analyst => matches!(permission, ViewShow | ViewFigures),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn the_owner_may_do_everything_and_every_role_may_look() {
        for p in Permission::ALL {
            assert!(allows(Role::Owner, p));
        }
        for r in Role::ALL {
            assert!(allows(r, Permission::ViewShow));
        }
    }

    #[test]
    fn only_the_owner_refunds_and_runs_the_shop() {
        for r in Role::ALL {
            assert_eq!(allows(r, Permission::Refund), r == Role::Owner);
            assert_eq!(allows(r, Permission::ManageShop), r == Role::Owner);
        }
    }

    #[test]
    fn analysts_only_read_and_moderators_only_moderate() {
        for p in Permission::ALL {
            assert_eq!(
                allows(Role::Analyst, p),
                matches!(p, Permission::ViewShow | Permission::ViewFigures)
            );
            assert_eq!(
                allows(Role::Moderator, p),
                matches!(p, Permission::ViewShow | Permission::Moderate)
            );
        }
        // A moderator does not see the orders' addresses; a producer ships them.
        assert!(!allows(Role::Moderator, Permission::HandleOrders));
        assert!(allows(Role::Producer, Permission::HandleOrders));
        assert!(!allows(Role::Producer, Permission::Moderate));
    }

    #[test]
    fn the_owner_is_not_invitable() {
        assert!(!Role::Owner.invitable());
        assert!(Role::Moderator.invitable());
    }
}
