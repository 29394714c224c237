//! In-process rate limits (token buckets keyed by action and subject). One node holds the
//! whole live room today; a multi-node deployment would move these counters to Redis.

use crate::error::Result;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// New anonymous shopper identities, per client IP.
    NewShopper,
    Reserve,
    Invite,
    Order,
    Nickname,
    /// Saving delivery addresses.
    Address,
    /// Host sign-in attempts, per email and per IP.
    SignIn,
    Chat,
    /// Batched heart taps.
    Like,
    /// Reports of chat messages, per shopper.
    Report,
    /// One-time codes sent to one number.
    PhoneCodePerNumber,
    /// One-time codes requested from one client IP.
    PhoneCodePerIp,
    /// Codes tried from one client IP (each code also allows only 5 tries).
    PhoneVerify,
    /// Entering lucky draws, per shopper.
    DrawEntry,
    /// Taps on a live coupon's Claim, per shopper.
    CouponClaim,
}

impl Action {
    /// (burst, refill period for the whole burst)
    fn limit(self) -> (u32, Duration) {
        match self {
            Action::NewShopper => (30, Duration::from_secs(60)),
            Action::Reserve => (20, Duration::from_secs(60)),
            Action::Invite => (20, Duration::from_secs(60)),
            Action::Order => (20, Duration::from_secs(60)),
            Action::Nickname => (10, Duration::from_secs(60)),
            Action::Address => (10, Duration::from_secs(60)),
            Action::SignIn => (10, Duration::from_secs(300)),
            Action::Chat => (5, Duration::from_secs(10)),
            Action::Like => (20, Duration::from_secs(10)),
            Action::Report => (10, Duration::from_secs(60)),
            Action::PhoneCodePerNumber => (3, Duration::from_secs(600)),
            Action::PhoneCodePerIp => (10, Duration::from_secs(3600)),
            Action::PhoneVerify => (20, Duration::from_secs(600)),
            Action::DrawEntry => (10, Duration::from_secs(60)),
            Action::CouponClaim => (10, Duration::from_secs(60)),
        }
    }
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    /// Multiplies every burst (config `APP_RATE_LIMIT_SCALE`; load tests raise it).
    scale: u32,
    buckets: Mutex<HashMap<(Action, String), Bucket>>,
    /// Slow mode on one node: when each subject may act again.
    next_allowed: Mutex<HashMap<String, Instant>>,
    /// Distributed mode: the buckets live in Redis, shared by every node.
    shared: Option<std::sync::Arc<crate::live::backplane::RedisBackplane>>,
}

impl RateLimiter {
    pub fn new(scale: u32) -> RateLimiter {
        RateLimiter {
            scale: scale.max(1),
            buckets: Mutex::new(HashMap::new()),
            next_allowed: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Limits shared by every node through Redis. When Redis cannot be asked, a request is
    /// refused (fail closed) with 503.
    pub fn shared(
        scale: u32,
        backplane: std::sync::Arc<crate::live::backplane::RedisBackplane>,
    ) -> RateLimiter {
        RateLimiter {
            shared: Some(backplane),
            ..RateLimiter::new(scale)
        }
    }

    /// Takes one token for `subject` doing `action`, or answers `RateLimited`.
    pub async fn check(&self, action: Action, subject: &str) -> Result<()> {
        let Some(bp) = &self.shared else {
            return self.check_local(action, subject);
        };
        let (burst, period) = action.limit();
        let key = format!("{action:?}:{subject}");
        if bp
            .take(&key, burst.saturating_mul(self.scale), period)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::RateLimited.into())
        }
    }

    /// At most once per `every` for `subject` (slow mode): `None` when it may act now (and the
    /// interval starts), else how long until it may. Shared by every node with Redis (a key
    /// set only if absent, expiring after `every`); not scaled, a host's chosen interval.
    pub async fn once_per(&self, subject: &str, every: Duration) -> Result<Option<Duration>> {
        if let Some(bp) = &self.shared {
            let key = format!("slow:{subject}");
            if bp.try_lock(&key, every).await? {
                return Ok(None);
            }
            let left = bp.get_with_ttl(&key).await?.map(|(_, ttl)| ttl);
            return Ok(Some(left.unwrap_or(every)));
        }
        let now = Instant::now();
        let mut map = self
            .next_allowed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, at| *at > now);
        }
        match map.get(subject) {
            Some(at) if *at > now => Ok(Some(*at - now)),
            _ => {
                map.insert(subject.to_string(), now + every);
                Ok(None)
            }
        }
    }

    /// With several nodes: the shared bucket's size (scaled) and refill period for `action`,
    /// for a caller that takes the token inside a Redis script of its own (the flash-sale
    /// gate's first look, saving a round trip per order). `None` on one node.
    pub fn shared_bucket(&self, action: Action) -> Option<(u32, Duration)> {
        self.shared.as_ref()?;
        let (burst, period) = action.limit();
        Some((burst.saturating_mul(self.scale), period))
    }

    /// The in-process bucket (one node).
    fn check_local(&self, action: Action, subject: &str) -> Result<()> {
        let (burst, period) = action.limit();
        let capacity = f64::from(burst.saturating_mul(self.scale));
        let per_sec = capacity / period.as_secs_f64();
        let now = Instant::now();
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() > 100_000 {
            // Forget subjects that have been idle long enough to be full again.
            map.retain(|(a, _), b| now.duration_since(b.updated) < a.limit().1);
        }
        let bucket = map.entry((action, subject.to_string())).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(AppError::RateLimited.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_per_subject() {
        let rl = RateLimiter::new(1);
        for _ in 0..5 {
            rl.check_local(Action::Chat, "a").expect("within burst");
        }
        assert_eq!(
            rl.check_local(Action::Chat, "a").map_err(|e| e.wire()),
            Err(AppError::RateLimited)
        );
        rl.check_local(Action::Chat, "b")
            .expect("other subjects unaffected");
        rl.check_local(Action::Order, "a")
            .expect("other actions unaffected");
    }

    #[test]
    fn scale_multiplies_the_burst() {
        let rl = RateLimiter::new(3);
        for _ in 0..15 {
            rl.check_local(Action::Chat, "a")
                .expect("within scaled burst");
        }
        assert!(rl.check_local(Action::Chat, "a").is_err());
    }
}
