//! "A session changed": one typed event on one channel. Whoever changes a session (the studio
//! service for the host's changes, buying for stock and purchases, the media layer for the
//! video) emits a [`SessionChange`] carrying what followers need; the followers (the live
//! rooms, the flash-sale gate, the media layer) are told in the order they followed, each
//! awaited, before the change's author answers: so the host's next action (a chat line right
//! after presenting) reaches viewers after it, never before. Nobody reads the change back
//! from the database, and this module knows none of its followers.

use shop_core::ids::{ProductId, SessionId};
use std::{future::Future, pin::Pin, sync::Arc};

use crate::{
    domain::discount::LivePrice,
    model::{PresentingView, SessionStatus},
};

/// What changed in one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionChange {
    pub session_id: SessionId,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Went live or ended.
    Lifecycle(SessionStatus),
    /// The product being explained now (its card, as viewers see it) and its stock.
    Presented { card: PresentingView, stock: i64 },
    /// A product's stock after an order, an edit or "sold out".
    Stock { product_id: ProductId, stock: i64 },
    /// A product's new price, with the session's discount applied.
    Price {
        product_id: ProductId,
        pricing: LivePrice,
    },
    /// Someone bought (`buyer`'s nickname, the product's name): the room's ticker.
    Purchase { buyer: String, product: String },
    /// The host's video started or stopped.
    Video { live: bool },
}

/// A follower's answer to one change (boxed: followers are trait objects).
pub type Followed<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Something that follows session changes. A follower logs its own failures: the change has
/// been committed and stands whether or not it could be followed.
pub trait Follower: Send + Sync {
    fn follow<'a>(&'a self, change: &'a SessionChange) -> Followed<'a>;
}

/// The channel (cheap to clone: the followers are shared).
#[derive(Clone, Default)]
pub struct Changes {
    /// Replaced whole when one is added (at start-up), so an emit takes one counter, not a
    /// copy of the list: it runs for every order in a rush.
    followers: Arc<std::sync::RwLock<Arc<Vec<Arc<dyn Follower>>>>>,
}

impl Changes {
    /// Adds a follower, told after those before it (at start-up: the live rooms first).
    pub fn follow(&self, follower: Arc<dyn Follower>) {
        let mut list = self.followers.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Vec::clone(&list);
        next.push(follower);
        *list = Arc::new(next);
    }

    /// Tells every follower, one after another.
    pub async fn emit(&self, session_id: SessionId, change: Change) {
        let change = SessionChange { session_id, change };
        let followers = self
            .followers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for f in followers.iter() {
            f.follow(&change).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Log(&'static str, Arc<Mutex<Vec<String>>>);

    impl Follower for Log {
        fn follow<'a>(&'a self, c: &'a SessionChange) -> Followed<'a> {
            Box::pin(async move {
                self.1
                    .lock()
                    .expect("lock")
                    .push(format!("{} {} {:?}", self.0, c.session_id, c.change));
            })
        }
    }

    #[tokio::test]
    async fn followers_are_told_in_order_each_change_once() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let changes = Changes::default();
        changes.follow(Arc::new(Log("rooms", log.clone())));
        changes.follow(Arc::new(Log("media", log.clone())));
        changes
            .emit(SessionId(7), Change::Lifecycle(SessionStatus::Ended))
            .await;
        changes
            .clone()
            .emit(
                SessionId(7),
                Change::Stock {
                    product_id: ProductId(3),
                    stock: 0,
                },
            )
            .await;
        assert_eq!(
            *log.lock().expect("lock"),
            [
                "rooms 7 Lifecycle(Ended)",
                "media 7 Lifecycle(Ended)",
                "rooms 7 Stock { product_id: ProductId(3), stock: 0 }",
                "media 7 Stock { product_id: ProductId(3), stock: 0 }",
            ]
        );
    }
}
