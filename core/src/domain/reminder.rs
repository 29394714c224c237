//! Reminders that bring reservers back (issue 31), as pure rules: what is sent, when, on which
//! channels, and how a failed send is retried.
//!
//! A reminder is one message to one shopper about one session on one channel. It is keyed by
//! (session, shopper, kind, channel, occasion) so that a node that dies mid-send, or a second
//! node scheduling the same thing, cannot make two: the occasion is the start time the message
//! is about (a reschedule makes a new "moved" and a new "starts soon"; going live twice in one
//! session is one "live now").

use serde::{Deserialize, Serialize};

/// What a reminder says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// "… starts in N minutes", at the session's lead time before its start.
    Soon,
    /// "… is live now", when the host goes live.
    Live,
    /// "… moved to …", when the host reschedules.
    Moved,
}

impl ReminderKind {
    pub const ALL: [ReminderKind; 3] =
        [ReminderKind::Soon, ReminderKind::Live, ReminderKind::Moved];

    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::Soon => "soon",
            ReminderKind::Live => "live",
            ReminderKind::Moved => "moved",
        }
    }

    pub fn parse(s: &str) -> Option<ReminderKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How a reminder reaches the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Web Push (RFC 8030/8291/8292) to a browser's push subscription.
    WebPush,
    /// A WeChat official account's one-time subscription message.
    Wechat,
    /// A text message to the shopper's verified number.
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::WebPush, Channel::Wechat, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WebPush => "web_push",
            Channel::Wechat => "wechat",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A reminder's state in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderState {
    /// Waiting for its time (or for its next try).
    Due,
    /// Claimed by a node, which is sending it; past the claim's lease another may take it.
    Sending,
    /// Accepted by the channel.
    Sent,
    /// Given up: the channel refused it for good, or every try failed.
    Failed,
    /// No longer wanted: the session moved or ended first, or the shopper unsubscribed.
    Cancelled,
}

impl ReminderState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderState::Due => "due",
            ReminderState::Sending => "sending",
            ReminderState::Sent => "sent",
            ReminderState::Failed => "failed",
            ReminderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ReminderState> {
        [
            ReminderState::Due,
            ReminderState::Sending,
            ReminderState::Sent,
            ReminderState::Failed,
            ReminderState::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// The channels a shopper chose. Remembered per shopper, for every session they reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Channels {
    pub web_push: bool,
    pub wechat: bool,
    pub sms: bool,
}

impl Channels {
    pub fn has(self, c: Channel) -> bool {
        match c {
            Channel::WebPush => self.web_push,
            Channel::Wechat => self.wechat,
            Channel::Sms => self.sms,
        }
    }

    pub fn with(mut self, c: Channel, on: bool) -> Channels {
        match c {
            Channel::WebPush => self.web_push = on,
            Channel::Wechat => self.wechat = on,
            Channel::Sms => self.sms = on,
        }
        self
    }

    pub fn chosen(self) -> impl Iterator<Item = Channel> {
        Channel::ALL.into_iter().filter(move |c| self.has(*c))
    }
}

/// What a shopper can actually be reached by, for a session: the channels they chose and
/// have the means for (a push subscription, a WeChat grant, a verified number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reach {
    pub push_subscription: bool,
    pub wechat_grant: bool,
    pub verified_phone: bool,
}

/// The channels a reminder goes out on: chosen and reachable.
pub fn channels_for(chosen: Channels, reach: Reach) -> Vec<Channel> {
    chosen
        .chosen()
        .filter(|c| match c {
            Channel::WebPush => reach.push_subscription,
            Channel::Wechat => reach.wechat_grant,
            Channel::Sms => reach.verified_phone,
        })
        .collect()
}

/// Default lead time of "starts soon", in minutes.
pub const DEFAULT_LEAD_MINUTES: i64 = 10;
/// Longest lead time a host may set, in minutes (a day).
pub const MAX_LEAD_MINUTES: i64 = 24 * 60;

/// Why a lead time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeadError {
    #[error("The reminder's lead time is 0 (off) to 1440 minutes.")]
    OutOfRange,
}

/// A checked lead time: 0 turns "starts soon" off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadMinutes(i64);

impl LeadMinutes {
    pub fn parse(m: i64) -> Result<LeadMinutes, LeadError> {
        if (0..=MAX_LEAD_MINUTES).contains(&m) {
            Ok(LeadMinutes(m))
        } else {
            Err(LeadError::OutOfRange)
        }
    }
    pub fn get(self) -> i64 {
        self.0
    }
}

/// When "starts soon" is due for a session starting at `start_ms`: `lead` before it. `None`
/// when it is off, or when the start is already closer than half the lead (a reservation
/// made five minutes before the start needs no "starts in 10 minutes"; the page says it).
pub fn soon_due_at(start_ms: i64, lead: LeadMinutes, now_ms: i64) -> Option<i64> {
    if lead.0 == 0 {
        return None;
    }
    let lead_ms = lead.0 * 60_000;
    let due = start_ms - lead_ms;
    if start_ms - now_ms < lead_ms / 2 {
        return None;
    }
    Some(due.max(now_ms))
}

/// Tries per reminder before it is marked failed.
pub const MAX_ATTEMPTS: u32 = 6;

/// How long after failed try number `attempt` (1-based) the next one is: 15 s doubling, at
/// most 10 minutes; `None` once the tries are used up. "Live now" is worth little an hour
/// late, so the whole schedule fits in about 16 minutes.
pub fn retry_after_ms(attempt: u32) -> Option<i64> {
    if attempt >= MAX_ATTEMPTS {
        return None;
    }
    let base: i64 = 15_000;
    Some((base << (attempt.saturating_sub(1)).min(10)).min(600_000))
}

/// What a channel answered a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted.
    Sent,
    /// The destination is gone for good (a push subscription answered 404/410, a WeChat
    /// grant is used up or refused): drop it and do not retry.
    Gone(String),
    /// Try again later (5xx, a timeout, 429).
    Retry(String),
    /// Refused for good for another reason (a malformed request on our side).
    Failed(String),
}

/// The state after a try: `(state, next try at)`.
pub fn after_try(outcome: &SendOutcome, attempt: u32, now_ms: i64) -> (ReminderState, Option<i64>) {
    match outcome {
        SendOutcome::Sent => (ReminderState::Sent, None),
        SendOutcome::Gone(_) | SendOutcome::Failed(_) => (ReminderState::Failed, None),
        SendOutcome::Retry(_) => match retry_after_ms(attempt) {
            Some(after) => (ReminderState::Due, Some(now_ms + after)),
            None => (ReminderState::Failed, None),
        },
    }
}

/// Whether a reminder is still worth sending at `now_ms`: "starts soon" and "moved" not after
/// the start they announce (`occasion_ms`), "live now" within an hour of going live
/// (`due_at_ms`, when it was scheduled).
pub fn still_worth_sending(
    kind: ReminderKind,
    occasion_ms: i64,
    due_at_ms: i64,
    now_ms: i64,
) -> bool {
    match kind {
        ReminderKind::Soon | ReminderKind::Moved => now_ms < occasion_ms,
        ReminderKind::Live => now_ms < due_at_ms + 3_600_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip() {
        for k in ReminderKind::ALL {
            assert_eq!(ReminderKind::parse(k.as_str()), Some(k));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("email"), None);
    }

    #[test]
    fn a_channel_goes_out_only_when_chosen_and_reachable() {
        let chosen = Channels::default()
            .with(Channel::WebPush, true)
            .with(Channel::Sms, true);
        let reach = Reach {
            push_subscription: true,
            wechat_grant: true,
            verified_phone: false,
        };
        assert_eq!(channels_for(chosen, reach), vec![Channel::WebPush]);
        assert!(channels_for(Channels::default(), reach).is_empty());
    }

    #[test]
    fn soon_is_lead_before_the_start_and_skipped_when_too_late() {
        let lead = LeadMinutes::parse(10).unwrap();
        let start = 10_000_000;
        assert_eq!(soon_due_at(start, lead, 0), Some(start - 600_000));
        // 7 minutes before: still sent, now.
        assert_eq!(
            soon_due_at(start, lead, start - 420_000),
            Some(start - 420_000)
        );
        // 4 minutes before: not worth it.
        assert_eq!(soon_due_at(start, lead, start - 240_000), None);
        assert_eq!(soon_due_at(start, LeadMinutes::parse(0).unwrap(), 0), None);
        assert!(LeadMinutes::parse(-1).is_err());
        assert!(LeadMinutes::parse(MAX_LEAD_MINUTES + 1).is_err());
    }

    #[test]
    fn retries_back_off_then_fail() {
        assert_eq!(retry_after_ms(1), Some(15_000));
        assert_eq!(retry_after_ms(2), Some(30_000));
        assert_eq!(retry_after_ms(MAX_ATTEMPTS), None);
        let gone = SendOutcome::Gone("410".into());
        assert_eq!(after_try(&gone, 1, 0), (ReminderState::Failed, None));
        let retry = SendOutcome::Retry("503".into());
        assert_eq!(
            after_try(&retry, 1, 100),
            (ReminderState::Due, Some(15_100))
        );
        assert_eq!(
            after_try(&retry, MAX_ATTEMPTS, 100),
            (ReminderState::Failed, None)
        );
    }

    #[test]
    fn late_reminders_are_not_sent() {
        assert!(still_worth_sending(ReminderKind::Soon, 1_000, 0, 999));
        assert!(!still_worth_sending(ReminderKind::Soon, 1_000, 0, 1_000));
        assert!(still_worth_sending(
            ReminderKind::Live,
            0,
            5_000,
            5_000 + 3_599_999
        ));
        assert!(!still_worth_sending(
            ReminderKind::Live,
            0,
            5_000,
            5_000 + 3_600_000
        ));
    }

    proptest! {
        #[test]
        fn backoff_grows_and_is_bounded(a in 1u32..MAX_ATTEMPTS) {
            let this = retry_after_ms(a).unwrap();
            prop_assert!(this > 0 && this <= 600_000);
            if let Some(next) = retry_after_ms(a + 1) {
                prop_assert!(next >= this);
            }
        }

        #[test]
        fn soon_is_never_after_the_start_nor_before_now(
            start in 0i64..10_000_000_000, lead in 1i64..=MAX_LEAD_MINUTES, now in 0i64..10_000_000_000,
        ) {
            if let Some(due) = soon_due_at(start, LeadMinutes::parse(lead).unwrap(), now) {
                prop_assert!(due >= now);
                prop_assert!(due < start);
            }
        }
    }
}
