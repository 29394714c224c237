//! A live session's life: scheduled → (a private rehearsal and back) → live → ended, and what
//! each stage allows. Pure: every
//! guard in the app (run of show, editing, reservations, invites, buying, chat, broadcasting)
//! asks [`allows`] and shows the same explanation when the answer is no.

use serde::{Deserialize, Serialize};

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Scheduled,
    /// Live for the team only (issue 30): camera, run of show and cards work, shoppers still
    /// see a scheduled session, nobody can buy, and what happened is discarded when the real
    /// show starts (or the rehearsal stops).
    Rehearsal,
    Live,
    Ended,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Scheduled => "scheduled",
            SessionStatus::Rehearsal => "rehearsal",
            SessionStatus::Live => "live",
            SessionStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(SessionStatus::Scheduled),
            "rehearsal" => Some(SessionStatus::Rehearsal),
            "live" => Some(SessionStatus::Live),
            "ended" => Some(SessionStatus::Ended),
            _ => None,
        }
    }

    /// The badge a viewer sees on a session card, in the page's language.
    pub fn label(self) -> String {
        crate::i18n::t(self.label_key())
    }

    /// The badge's text (the server's first paint writes it in the request's language).
    pub fn label_key(self) -> crate::i18n::K {
        use crate::i18n::K;
        match self {
            SessionStatus::Scheduled => K::shop_status_upcoming,
            SessionStatus::Rehearsal => K::shop_status_rehearsal,
            SessionStatus::Live => K::shop_status_live,
            SessionStatus::Ended => K::shop_status_ended,
        }
    }

    /// The words around a session's start time on its page ("Starts {time}").
    pub fn start_key(self) -> crate::i18n::K {
        use crate::i18n::K;
        match self {
            SessionStatus::Scheduled | SessionStatus::Rehearsal => K::shop_session_starts,
            SessionStatus::Live => K::shop_session_live_scheduled,
            SessionStatus::Ended => K::shop_session_was_scheduled,
        }
    }

    /// What shoppers are shown: a rehearsal is still a scheduled session to them.
    pub fn public(self) -> SessionStatus {
        match self {
            SessionStatus::Rehearsal => SessionStatus::Scheduled,
            s => s,
        }
    }
}

/// Something whose permission depends on the session's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    GoLive,
    Present,
    MarkSoldOut,
    End,
    /// Title, description, start time, discount policy.
    EditDetails,
    DeleteSession,
    AddProduct,
    EditProduct,
    RemoveProduct,
    Reserve,
    CreateInvite,
    JoinInvite,
    Buy,
    Chat,
    Broadcast,
    /// Start a private rehearsal (before the show).
    Rehearse,
    /// Stop the rehearsal without going live.
    StopRehearsal,
}

/// Why an activity is refused now (a 409 with this text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotNow(pub &'static str);

impl std::fmt::Display for NotNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<NotNow> for crate::error::AppError {
    fn from(n: NotNow) -> Self {
        crate::error::AppError::Conflict(n.0.to_string())
    }
}

/// Whether `status` allows `activity`, and if not, what to tell the person.
pub fn allows(status: SessionStatus, activity: Activity) -> Result<(), NotNow> {
    use Activity::*;
    use SessionStatus::{Ended, Live, Rehearsal, Scheduled};
    let refusal = match (activity, status) {
        (GoLive, Scheduled | Rehearsal) => return Ok(()),
        (Rehearse, Scheduled) | (StopRehearsal, Rehearsal) => return Ok(()),
        (Rehearse, Rehearsal) => "The rehearsal is already running.",
        (Rehearse, _) => "Rehearsals are only possible before the session goes live.",
        (StopRehearsal, _) => "No rehearsal is running.",
        // The team runs the show for real, privately; the server keeps shoppers out.
        (Present | Chat, Rehearsal) => return Ok(()),
        (MarkSoldOut, Rehearsal) => {
            "Marking sold out changes the real stock: do it during the show."
        }
        (Buy, Rehearsal) => "The session hasn't started yet: buying opens when it goes live.",
        (End, Rehearsal) => "Stop the rehearsal, or go live: a rehearsal does not end the session.",
        (DeleteSession, Rehearsal) => "Stop the rehearsal before deleting the session.",
        (EditDetails | RemoveProduct, Rehearsal) => return Ok(()),
        (GoLive, Live) => "The session is already live.",
        (GoLive, Ended) => "This session has ended and can't go live again.",
        (Present, Live) | (MarkSoldOut, Live) | (End, Live) | (Buy, Live) | (Chat, Live) => {
            return Ok(())
        }
        (Present, Scheduled) => "Go live before presenting products.",
        (MarkSoldOut, _) => "Mark products sold out during the live session.",
        (End, Scheduled) => "The session hasn't gone live yet.",
        (End, Ended) => "The session has already ended.",
        (Buy, Scheduled) => "The session hasn't started yet: buying opens when it goes live.",
        (Buy, Ended) => "The session has ended: buying is closed.",
        (Chat, _) => "Chat opens when the session is live.",
        (EditDetails | DeleteSession | RemoveProduct, Scheduled) => return Ok(()),
        (EditDetails, _) => "Editing the session is only possible before the session goes live.",
        (DeleteSession, _) => "Deleting the session is only possible before the session goes live.",
        (RemoveProduct, _) => "Removing a product is only possible before the session goes live.",
        (AddProduct | EditProduct | Reserve | CreateInvite | JoinInvite | Broadcast, Ended) => {
            match activity {
                AddProduct => "The session has ended.",
                EditProduct => "The session has ended: its products can no longer change.",
                Reserve => "This session has ended; reservations are closed.",
                CreateInvite => "This session has ended; invites are closed.",
                JoinInvite => "This invite has expired: the session has ended.",
                _ => "The session has ended.",
            }
        }
        (AddProduct | EditProduct | Reserve | CreateInvite | JoinInvite | Broadcast, _) => {
            return Ok(())
        }
        (Present, Ended) => "The session has ended.",
    };
    Err(NotNow(refusal))
}

/// The status a run-of-show step leads to (`GoLive`, `End`), if the step changes it.
pub fn next_status(activity: Activity) -> Option<SessionStatus> {
    match activity {
        Activity::GoLive => Some(SessionStatus::Live),
        Activity::End => Some(SessionStatus::Ended),
        Activity::Rehearse => Some(SessionStatus::Rehearsal),
        Activity::StopRehearsal => Some(SessionStatus::Scheduled),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Activity::*;
    use SessionStatus::{Ended, Live, Rehearsal, Scheduled};

    const ALL: [Activity; 17] = [
        GoLive,
        Present,
        MarkSoldOut,
        End,
        EditDetails,
        DeleteSession,
        AddProduct,
        EditProduct,
        RemoveProduct,
        Reserve,
        CreateInvite,
        JoinInvite,
        Buy,
        Chat,
        Broadcast,
        Rehearse,
        StopRehearsal,
    ];

    #[test]
    fn a_rehearsal_runs_the_show_but_sells_nothing_and_leads_to_live_or_back() {
        assert!(allows(Scheduled, Rehearse).is_ok());
        assert!(allows(Rehearsal, Rehearse).is_err());
        assert!(allows(Live, Rehearse).is_err());
        assert!(allows(Rehearsal, StopRehearsal).is_ok());
        assert!(allows(Scheduled, StopRehearsal).is_err());
        for a in [Present, Chat, GoLive, Broadcast, Reserve] {
            assert!(allows(Rehearsal, a).is_ok(), "{a:?}");
        }
        for a in [Buy, End, DeleteSession, MarkSoldOut] {
            assert!(allows(Rehearsal, a).is_err(), "{a:?}");
        }
        assert_eq!(next_status(Rehearse), Some(Rehearsal));
        assert_eq!(next_status(StopRehearsal), Some(Scheduled));
        assert_eq!(Rehearsal.public(), Scheduled);
        assert_eq!(Live.public(), Live);
        assert_eq!(SessionStatus::parse("rehearsal"), Some(Rehearsal));
    }

    #[test]
    fn the_lifecycle_only_moves_forward() {
        assert!(allows(Scheduled, GoLive).is_ok());
        assert!(allows(Live, GoLive).is_err());
        assert!(allows(Ended, GoLive).is_err());
        assert!(allows(Live, End).is_ok());
        assert!(allows(Scheduled, End).is_err());
        assert!(allows(Ended, End).is_err());
        assert_eq!(next_status(GoLive), Some(Live));
        assert_eq!(next_status(End), Some(Ended));
    }

    #[test]
    fn an_ended_session_allows_nothing() {
        for a in ALL {
            assert!(allows(Ended, a).is_err(), "{a:?}");
        }
    }

    #[test]
    fn buying_chat_and_presenting_only_while_live() {
        for a in [Present, MarkSoldOut, Buy, Chat] {
            assert!(allows(Live, a).is_ok(), "{a:?}");
            assert!(allows(Scheduled, a).is_err(), "{a:?}");
        }
        assert_eq!(
            allows(Scheduled, Buy).unwrap_err().0,
            "The session hasn't started yet: buying opens when it goes live."
        );
    }

    #[test]
    fn details_are_fixed_once_live_but_products_and_reservations_are_not() {
        for a in [EditDetails, DeleteSession, RemoveProduct] {
            assert!(allows(Scheduled, a).is_ok(), "{a:?}");
            assert!(allows(Live, a).is_err(), "{a:?}");
        }
        for a in [
            AddProduct,
            EditProduct,
            Reserve,
            CreateInvite,
            JoinInvite,
            Broadcast,
        ] {
            assert!(allows(Scheduled, a).is_ok(), "{a:?}");
            assert!(allows(Live, a).is_ok(), "{a:?}");
        }
    }
}
