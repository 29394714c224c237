//! What happens to a session (it went live, a product was presented, it ended), told once to
//! whoever follows sessions: the live rooms (`live::Hub::follow`) and the media pipeline (the
//! server's `media::follow`). Server functions publish; nobody polls the database for it.

use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    WentLive { session_id: i64 },
    Presented { session_id: i64, product_id: i64 },
    Ended { session_id: i64 },
}

/// The channel (cheap to clone). A follower that falls more than [`CAPACITY`] events behind
/// is told so (`Lagged`) and resyncs what it holds from the database.
#[derive(Clone)]
pub struct SessionEvents(broadcast::Sender<SessionEvent>);

pub const CAPACITY: usize = 1024;

impl Default for SessionEvents {
    fn default() -> Self {
        SessionEvents(broadcast::channel(CAPACITY).0)
    }
}

impl SessionEvents {
    pub fn publish(&self, event: SessionEvent) {
        // Nobody following (unit tests, a node without rooms) is fine.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.0.subscribe()
    }
}
