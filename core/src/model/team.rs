//! What the studio's team page, the join page and the audit log show (issue 30).

use serde::{Deserialize, Serialize};

use crate::{domain::team::Role, ids::SessionId};

/// A member of a shop's team; the owner is listed first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMember {
    pub account_id: i64,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub joined_at_ms: i64,
}

/// An invite link not yet used: its id (the hash of its token, never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamInvite {
    pub id: String,
    pub role: Role,
    pub note: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// The team page: members and open invites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamView {
    pub members: Vec<TeamMember>,
    pub invites: Vec<TeamInvite>,
}

/// A new invite: the link is shown once, to the owner who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewInvite {
    pub invite: TeamInvite,
    /// `/studio/join/<token>`, relative to the site.
    pub path: String,
}

/// What the join page shows before someone accepts an invite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InviteInfo {
    pub shop_name: String,
    pub role: Role,
}

/// One line of the audit log: who did what, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    /// The account's email at the time; empty for changes made before teams existed.
    pub actor: String,
    pub action: String,
    pub detail: String,
    pub reason: String,
    pub session_id: Option<SessionId>,
}
