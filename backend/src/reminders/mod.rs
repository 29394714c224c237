//! Reminders that bring reservers back (issue 31): "starts in 10 minutes", "is live now" and
//! "moved to …", on the channels each shopper chose (`domain::reminder`).
//!
//! Every node runs one sender loop ([`Reminders::start`]). Each second it fans out what has
//! come due ("starts soon" at the lead time, "live now" once a session is live; "moved" is
//! fanned out by the reschedule itself), each fan-out claimed by one node in the transaction
//! that writes its rows (`repo::reminders`). Then it claims due reminders in batches, with a
//! lease, sends them with a bounded number in flight and each channel paced to its rate, and
//! records how each try ended; a retry waits `domain::reminder::retry_after_ms`.
//!
//! Once per shopper, session, kind and channel: the rows' unique key makes scheduling
//! idempotent, and a claimed row is someone's until its lease runs out. A node killed between
//! a channel's acceptance and the record of it leaves a row that another node sends again
//! when the lease ends, under the same message id (the reminder's), which the channels pass
//! on for the receiver to drop the repeat: at least once to the gateway, once to the person.

pub mod web_push;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use shop_core::ids::{SessionId, ShopperId};
use tokio::sync::{Mutex, Semaphore};

use crate::{
    crypto,
    db::Db,
    domain::{
        phone::Phone,
        reminder::{after_try, still_worth_sending, Channel, Channels, ReminderKind, SendOutcome},
    },
    error::AppError,
    i18n::{text, text_f, text_p, Locale, K},
    model::{ReminderChannelStats, ReminderChoice},
    now_ms,
    phone::CodeSender,
    repo::reminders::{self as repo, Claimed},
};

/// How long a claim is a node's: a send that takes longer is taken by another node.
const LEASE_MS: i64 = 60_000;
/// Reminders claimed at once.
const BATCH: i64 = 500;
/// Sends in flight per node.
const IN_FLIGHT: usize = 64;

/// Sends per second per channel on one node (the gateways' quotas, shared out by the
/// operator between nodes).
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub web_push: u32,
    pub wechat: u32,
    pub sms: u32,
}

impl Default for Rates {
    fn default() -> Rates {
        Rates {
            web_push: 2_000,
            wechat: 200,
            sms: 200,
        }
    }
}

/// Paces one channel: each send takes the next slot, `1 / rate` after the one before.
struct Pace {
    every: Duration,
    next: Mutex<Instant>,
}

impl Pace {
    fn new(per_second: u32) -> Pace {
        Pace {
            every: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.every;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

pub struct Reminders {
    db: Db,
    node: String,
    public_url: String,
    link_key: Arc<[u8]>,
    sms: Arc<dyn CodeSender>,
    /// Web Push with our VAPID key (`None`: the channel is off on this deployment).
    push: Option<web_push::WebPush>,
    paces: HashMap<Channel, Pace>,
    in_flight: Arc<Semaphore>,
    /// Wakes the loop early (a session went live or moved here).
    wake: tokio::sync::Notify,
}

impl Reminders {
    pub fn new(
        db: Db,
        node: String,
        public_url: String,
        link_key: Arc<[u8]>,
        sms: Arc<dyn CodeSender>,
        push: Option<web_push::WebPush>,
        rates: Rates,
    ) -> Arc<Reminders> {
        let paces = [
            (Channel::WebPush, Pace::new(rates.web_push)),
            (Channel::Wechat, Pace::new(rates.wechat)),
            (Channel::Sms, Pace::new(rates.sms)),
        ]
        .into_iter()
        .collect();
        Arc::new(Reminders {
            db,
            node,
            public_url,
            link_key,
            sms,
            push,
            paces,
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Starts this node's sender loop (needs a Tokio runtime).
    pub fn start(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move { me.run().await });
    }

    /// Makes the loop look now instead of within the second.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.fan_out_due().await {
                tracing::warn!(error = %e, "reminders: fanning out failed; trying again shortly");
            }
            let sent = match self.send_due().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "reminders: claiming failed; trying again shortly");
                    0
                }
            };
            if sent < BATCH as usize {
                let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
            }
        }
    }

    /// "Live now" for sessions that went live, "moved to …" for those whose start moved (the
    /// edit marked them), "starts soon" for those whose time came.
    pub async fn fan_out_due(&self) -> crate::error::Result<()> {
        let now = now_ms();
        for (session_id, start) in repo::moved_to_fan_out(&self.db).await? {
            if let Some(n) = repo::fan_out_moved(&self.db, session_id, start, now).await? {
                tracing::info!(session = %session_id, reminders = n, "reminders: moved");
            }
        }
        for session_id in repo::live_to_fan_out(&self.db).await? {
            if let Some(n) = repo::fan_out_live(&self.db, session_id, now).await? {
                tracing::info!(session = %session_id, reminders = n, "reminders: live now");
            }
        }
        for (session_id, start, lead) in repo::soon_to_fan_out(&self.db, now).await? {
            let Ok(lead) = crate::domain::reminder::LeadMinutes::parse(lead) else {
                continue;
            };
            if crate::domain::reminder::soon_due_at(start, lead, now).is_none() {
                continue;
            }
            if let Some(n) = repo::fan_out_soon(&self.db, session_id, start, now).await? {
                tracing::info!(session = %session_id, reminders = n, "reminders: starts soon");
            }
        }
        Ok(())
    }

    /// Claims one batch and sends it; returns how many were claimed.
    async fn send_due(self: &Arc<Self>) -> crate::error::Result<usize> {
        let claimed = repo::claim_due(&self.db, &self.node, now_ms(), LEASE_MS, BATCH).await?;
        let n = claimed.len();
        let mut tasks = tokio::task::JoinSet::new();
        for r in claimed {
            let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            tasks.spawn(async move {
                let _permit = permit;
                me.send_one(r).await;
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(n)
    }

    async fn send_one(&self, r: Claimed) {
        let outcome = match self.try_send(&r).await {
            Ok(o) => o,
            Err(e) => SendOutcome::Retry(format!("{e}")),
        };
        let now = now_ms();
        let (state, next) = after_try(&outcome, r.attempts, now);
        let error = match &outcome {
            SendOutcome::Sent => None,
            SendOutcome::Gone(e) | SendOutcome::Retry(e) | SendOutcome::Failed(e) => {
                Some(e.as_str())
            }
        };
        match repo::finish(&self.db, r.id, &self.node, state, next, error, now).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                id = r.id,
                "reminders: the claim ran out before the send ended"
            ),
            Err(e) => tracing::warn!(id = r.id, error = %e, "reminders: could not record a send"),
        }
    }

    async fn try_send(&self, r: &Claimed) -> crate::error::Result<SendOutcome> {
        let Some(facts) = repo::send_facts(&self.db, r).await? else {
            return Ok(SendOutcome::Failed("the session is gone".into()));
        };
        let now = now_ms();
        let status_fits = match r.kind {
            ReminderKind::Live => facts.status == "live",
            ReminderKind::Soon | ReminderKind::Moved => {
                facts.status == "scheduled" && facts.scheduled_start_ms == r.occasion_ms
            }
        };
        if !status_fits || !still_worth_sending(r.kind, r.occasion_ms, r.due_at_ms, now) {
            return Ok(SendOutcome::Failed("no longer worth sending".into()));
        }
        let locale = Locale::parse(&facts.locale).unwrap_or(Locale::ZhCn);
        let message = self.message(r, &facts, locale, now);
        let url = self.link(r.id);
        if let Some(pace) = self.paces.get(&r.channel) {
            pace.wait().await;
        }
        Ok(match r.channel {
            Channel::Sms => {
                let Some(phone) = facts.phone.as_deref().and_then(|p| Phone::parse(p).ok()) else {
                    return Ok(SendOutcome::Gone("no verified number".into()));
                };
                let body = text_f(
                    locale,
                    K::server_reminder_sms,
                    &[("message", &message), ("url", &url)],
                );
                self.sms
                    .send_text(&phone, &format!("reminder-{}", r.id), &body, locale.tag())
                    .await
            }
            Channel::WebPush => self.send_push(r, &message, &url, locale).await?,
            // WeChat's one-time subscription messages land next (issue 31): until then none
            // is scheduled (`repo::reminders` reaches nobody without a grant).
            Channel::Wechat => {
                SendOutcome::Failed(format!("the {} channel is not set up", r.channel.as_str()))
            }
        })
    }

    /// To every browser the shopper subscribed: sent if one took it; a subscription the push
    /// service calls gone is forgotten; gone when none is left.
    async fn send_push(
        &self,
        r: &Claimed,
        message: &str,
        url: &str,
        locale: Locale,
    ) -> crate::error::Result<SendOutcome> {
        let Some(push) = &self.push else {
            return Ok(SendOutcome::Failed("Web Push is not set up".into()));
        };
        let payload = serde_json::json!({
            "title": message,
            "body": Self::body(locale),
            "url": url,
            "tag": format!("session-{}", r.session_id),
        })
        .to_string();
        // A repeat after a crash replaces the waiting one at the push service (RFC 8030 5.4).
        let topic = format!("r{}", r.id);
        let mut outcomes = Vec::new();
        for (endpoint, p256dh, auth) in repo::push_subscriptions(&self.db, r.shopper_id).await? {
            let outcome = match web_push::parse_subscription(
                &endpoint,
                &p256dh,
                &auth,
                push.allows_private(),
            ) {
                Ok(sub) => push.send(&sub, payload.as_bytes(), &topic).await,
                Err(e) => SendOutcome::Gone(e),
            };
            if let SendOutcome::Gone(_) = outcome {
                repo::delete_push_subscription(&self.db, &endpoint, None).await?;
            }
            outcomes.push(outcome);
        }
        Ok(combine(outcomes))
    }

    /// The reminder's text in the shopper's language, times in the session's zone.
    pub fn message(
        &self,
        r: &Claimed,
        facts: &repo::SendFacts,
        locale: Locale,
        now: i64,
    ) -> String {
        let title = facts.title.as_str();
        match r.kind {
            ReminderKind::Soon => {
                // To the nearest minute: 6 min 20 s away reads "in 6 minutes".
                let minutes = ((r.occasion_ms - now).max(0) + 30_000) / 60_000;
                text_p(
                    locale,
                    K::server_reminder_soon,
                    minutes.max(1),
                    &[("title", title)],
                )
            }
            ReminderKind::Live => text_f(locale, K::server_reminder_live, &[("title", title)]),
            ReminderKind::Moved => text_f(
                locale,
                K::server_reminder_moved,
                &[
                    ("title", title),
                    (
                        "when",
                        &crate::zones::describe_in(r.occasion_ms, &facts.time_zone, locale),
                    ),
                ],
            ),
        }
    }

    /// The notification's link: opens the session (counting the open) and offers to stop
    /// reminders. `/r/{id}.{mac}`: only the server can make one.
    pub fn link(&self, id: i64) -> String {
        format!(
            "{}/r/{}",
            self.public_url.trim_end_matches('/'),
            link_token(&self.link_key, id)
        )
    }

    /// The reminder a link token names, if the server made it.
    pub fn parse_link(&self, token: &str) -> Option<i64> {
        let (id, sig) = token.split_once('.')?;
        let id: i64 = id.parse().ok()?;
        crypto::verify(&self.link_key, &link_message(id), sig).then_some(id)
    }

    /// A tap on the body: the text the notification's body shows.
    pub fn body(locale: Locale) -> &'static str {
        text(locale, K::server_reminder_body)
    }
}

/// One send to several browsers: sent if any took it, else retried if any may, else gone if
/// every subscription is gone (or none is left).
fn combine(outcomes: Vec<SendOutcome>) -> SendOutcome {
    if outcomes.iter().any(|o| *o == SendOutcome::Sent) {
        return SendOutcome::Sent;
    }
    if let Some(r) = outcomes.iter().find(|o| matches!(o, SendOutcome::Retry(_))) {
        return r.clone();
    }
    if let Some(f) = outcomes
        .iter()
        .find(|o| matches!(o, SendOutcome::Failed(_)))
    {
        return f.clone();
    }
    outcomes
        .into_iter()
        .next()
        .unwrap_or_else(|| SendOutcome::Gone("no push subscription left".into()))
}

fn link_message(id: i64) -> String {
    format!("reminder-link:{id}")
}

fn link_token(key: &[u8], id: i64) -> String {
    format!("{id}.{}", crypto::sign(key, &link_message(id)))
}

/// The shopper's channels, and what they can be reached by now.
pub async fn choice(db: &Db, shopper_id: ShopperId) -> crate::error::Result<ReminderChoice> {
    let channels = repo::channels(db, shopper_id)
        .await?
        .map(|(c, _)| c)
        .unwrap_or_default();
    Ok(ReminderChoice {
        channels,
        phone_verified: crate::repo::phones::verified_phone(db, shopper_id)
            .await?
            .is_some(),
        push_subscribed: !repo::push_subscriptions(db, shopper_id).await?.is_empty(),
    })
}

/// Saves the shopper's channels in `locale` (their reminders are written in it). Text
/// messages need a verified number: 409 without one.
pub async fn choose(
    db: &Db,
    shopper_id: ShopperId,
    channels: Channels,
    locale: Locale,
) -> crate::error::Result<ReminderChoice> {
    if channels.sms
        && crate::repo::phones::verified_phone(db, shopper_id)
            .await?
            .is_none()
    {
        return Err(AppError::Conflict(
            "Verify your mobile number first to get reminders by text message.".into(),
        )
        .into());
    }
    repo::set_channels(db, shopper_id, channels, locale.tag(), now_ms()).await?;
    choice(db, shopper_id).await
}

/// The "stop reminders" tap: every channel off and nothing more sent to the shopper the
/// link's reminder was for. 404 for a link the server did not make.
pub async fn stop(st: &crate::AppState, token: &str) -> crate::error::Result<()> {
    let not_found = || AppError::not_found("This reminder link is not valid.");
    let id = st.reminders.parse_link(token).ok_or_else(not_found)?;
    let (_, shopper_id) = repo::of_link(&st.db, id).await?.ok_or_else(not_found)?;
    repo::unsubscribe(&st.db, shopper_id, now_ms()).await
}

/// A reminder link's open: counted once; the session it is about (404 for a link the server
/// did not make).
pub async fn open(st: &crate::AppState, token: &str) -> crate::error::Result<SessionId> {
    let not_found = || AppError::not_found("This reminder link is not valid.");
    let id = st.reminders.parse_link(token).ok_or_else(not_found)?;
    let (session_id, _) = repo::of_link(&st.db, id).await?.ok_or_else(not_found)?;
    repo::opened(&st.db, id, now_ms()).await?;
    Ok(session_id)
}

/// The public key browsers subscribe with (`None`: Web Push is off).
pub fn push_key(st: &crate::AppState) -> Option<String> {
    st.reminders
        .push
        .as_ref()
        .map(|p| p.public_key().to_string())
}

/// Keeps this browser's push subscription for the shopper (400 for one that does not check
/// out: not https, a private address, keys that are not P-256 and 16 bytes).
pub async fn subscribe_push(
    st: &crate::AppState,
    shopper_id: ShopperId,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
) -> crate::error::Result<ReminderChoice> {
    let Some(push) = &st.reminders.push else {
        return Err(
            AppError::Conflict("Browser notifications are not available here.".into()).into(),
        );
    };
    web_push::parse_subscription(endpoint, p256dh, auth, push.allows_private())
        .map_err(AppError::bad_request)?;
    repo::save_push_subscription(&st.db, shopper_id, endpoint, p256dh, auth, now_ms()).await?;
    choice(&st.db, shopper_id).await
}

/// Forgets one of the shopper's push subscriptions.
pub async fn unsubscribe_push(
    st: &crate::AppState,
    shopper_id: ShopperId,
    endpoint: &str,
) -> crate::error::Result<ReminderChoice> {
    repo::delete_push_subscription(&st.db, endpoint, Some(shopper_id)).await?;
    choice(&st.db, shopper_id).await
}

/// Each channel's reminders for the session, for the studio.
pub async fn stats(
    db: &Db,
    session_id: SessionId,
) -> crate::error::Result<Vec<ReminderChannelStats>> {
    let (by_state, opened) = repo::session_counts(db, session_id).await?;
    Ok(Channel::ALL
        .into_iter()
        .map(|channel| {
            let count = |state: &str| {
                by_state
                    .iter()
                    .filter(|(c, s, _)| c == channel.as_str() && s == state)
                    .map(|(_, _, n)| *n)
                    .sum::<i64>()
            };
            ReminderChannelStats {
                channel,
                scheduled: count("due") + count("sending"),
                sent: count("sent"),
                failed: count("failed"),
                cancelled: count("cancelled"),
                opened: opened
                    .iter()
                    .filter(|(c, _)| c == channel.as_str())
                    .map(|(_, n)| *n)
                    .sum(),
            }
        })
        .collect())
}
