//! The product card in step with the picture. Live events arrive in under 100 ms; the video
//! that shows the host presenting arrives later (WebRTC: a few hundred ms; HLS: seconds). So
//! what the host shows on camera — "explaining now", the card's Buy button, "sold out", a new
//! price — is held until the picture on screen reaches the moment the event was published,
//! and never longer than [`MAX_HOLD_MS`]. Chat and orders are not held, and the server still
//! decides prices at order time. With no picture (no broadcast, not playing yet, a stream
//! without a clock) everything shows at once, as before.
//!
//! The picture's clock is the server's wall clock of the frame on screen, reported by the
//! player (`public/player.js`: `EXT-X-PROGRAM-DATE-TIME` for HLS, RTCP sender reports for
//! WebRTC); the events carry the server's publish time (`ts`).

use std::collections::VecDeque;

use leptos::prelude::*;

/// The longest a card waits for the picture.
pub const MAX_HOLD_MS: f64 = 8_000.0;

/// Whether a held event may go now: the picture reached it, it waited long enough, or there is
/// no picture to wait for.
pub fn due(event_ms: f64, arrived_ms: f64, picture_ms: Option<f64>, now_ms: f64) -> bool {
    match picture_ms {
        None => true,
        Some(p) => p >= event_ms || now_ms - arrived_ms >= MAX_HOLD_MS,
    }
}

struct Held {
    event_ms: f64,
    arrived_ms: f64,
    apply: Box<dyn FnOnce()>,
}

/// The live room's hold on what the host shows. `picture` is written by the video (the
/// frame's wall clock in ms, `None` while nothing plays).
#[derive(Clone, Copy)]
pub struct PictureSync {
    pub picture: RwSignal<Option<f64>>,
    queue: StoredValue<VecDeque<Held>, LocalStorage>,
}

impl PictureSync {
    /// A hold for the current component (its timer ends with it).
    pub fn new() -> PictureSync {
        let sync = PictureSync {
            picture: RwSignal::new(None),
            queue: StoredValue::new_local(VecDeque::new()),
        };
        super::scoped::every(std::time::Duration::from_millis(50), move || sync.release());
        sync
    }

    /// Applies `apply` when the picture reaches `ts_us` (the event's publish time, µs), in
    /// order with what is already held; at once when there is nothing to wait for.
    pub fn hold(self, ts_us: Option<i64>, apply: impl FnOnce() + 'static) {
        let now = now();
        let picture = self.picture.get_untracked();
        let event_ms = ts_us.map(|t| t as f64 / 1000.0);
        let waiting = self.queue.with_value(|q| !q.is_empty());
        match event_ms {
            Some(event_ms) if waiting || !due(event_ms, now, picture, now) => {
                self.queue.update_value(|q| {
                    q.push_back(Held {
                        event_ms,
                        arrived_ms: now,
                        apply: Box::new(apply),
                    })
                });
            }
            _ => apply(),
        }
    }

    /// Drops what is held (a snapshot replaces it).
    pub fn clear(self) {
        self.queue.update_value(VecDeque::clear);
    }

    fn release(self) {
        let now = now();
        let picture = self.picture.get_untracked();
        loop {
            let next = self.queue.try_update_value(|q| {
                if q.front()
                    .is_some_and(|h| due(h.event_ms, h.arrived_ms, picture, now))
                {
                    q.pop_front()
                } else {
                    None
                }
            });
            match next.flatten() {
                Some(h) => (h.apply)(),
                None => break,
            }
        }
    }
}

impl Default for PictureSync {
    fn default() -> Self {
        Self::new()
    }
}

fn now() -> f64 {
    super::browser::now_ms() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_waits_for_the_picture_but_not_forever() {
        // No picture: at once.
        assert!(due(10_000.0, 9_000.0, None, 9_000.0));
        // The picture is behind the event: wait.
        assert!(!due(10_000.0, 10_050.0, Some(8_000.0), 10_050.0));
        // The picture reached it.
        assert!(due(10_000.0, 10_050.0, Some(10_000.0), 12_000.0));
        // Eight seconds at most.
        assert!(!due(10_000.0, 10_050.0, Some(2_000.0), 18_049.0));
        assert!(due(10_000.0, 10_050.0, Some(2_000.0), 18_050.0));
    }
}
