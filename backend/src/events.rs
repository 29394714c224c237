//! What happens to a session (it went live, a product was presented, it ended): the studio's
//! server functions tell the live rooms before they answer ([`happened`]), then publish it once
//! to whoever follows sessions (the server's media pipeline, `media::follow`). Nobody polls the
//! database for it.

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

/// Something the host did to the session: shown in its live rooms first (awaited, so the host's
/// next action, such as a chat line, reaches viewers after it), then told to the followers.
/// The database already holds it; a room that could not be told (Redis down) is logged and
/// catches up from the database when viewers reconnect.
pub async fn happened(st: &super::AppState, event: SessionEvent) {
    super::live::told(st.live.run_of_show(&st.db, event).await);
    st.events.publish(event);
}
