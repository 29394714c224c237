//! The server-only services: the database and its repository layer, identity, limits,
//! buying and payment, live rooms, media and WeChat. Nothing here is compiled into the Wasm
//! client, and nothing here knows Leptos: every service takes its inputs explicitly, the
//! [`AppState`], the [`request::Browser`] behind the call and the caller's identity
//! (`identity::Shopper`, `identity::host_auth::Host`). Server functions (`app::api`) and the
//! server's plain routes both call these services.

// Grouped by capability: buying (sale gates, orders, payment providers), live (rooms, the
// hub, the Redis backplane), identity (shoppers, hosts), wechat, media (video, restream keys),
// repo (the database, split the same way); the rest is shared plumbing.
pub mod buying;
pub mod changes;
pub mod crypto;
pub mod db;
pub mod draws;
pub mod error;
pub mod identity;
pub mod live;
pub mod media;
pub mod metrics;
pub mod phone;
pub mod ratelimit;
pub mod redis_batch;
pub mod reminders;
pub mod repo;
pub mod request;
pub mod studio;
pub mod texts;
pub mod uploads;
pub mod wechat;
pub mod zones;

use std::sync::Arc;

// What the browser shares with the server (`shop-core`), named as this crate's own modules.
use shop_core::{domain, i18n, model};

pub use db::{Db, DbError, DbKind};

/// Runtime settings that server functions need (the server crate builds them from its config).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public origin used in links we hand out, e.g. `https://live.example.com`.
    pub public_url: String,
    /// Mark cookies `Secure` (the app is served over HTTPS).
    pub secure_cookies: bool,
    /// Where uploaded images are stored (served at `/media/{name}`).
    pub upload_dir: std::path::PathBuf,
    /// Where live video is published and played.
    pub media: media::MediaBackend,
    /// `APP_RESTREAM_ALLOW_PRIVATE`: restream destinations may be on loopback or private
    /// networks (tests, a local relay); otherwise they are refused.
    pub restream_allow_private: bool,
}

/// Shared state: the server builds it once; routes get it from axum's state, server functions
/// from their context (`app::api::state`). Cloned for every request, so one shared
/// allocation: a clone is one counter.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

impl From<Services> for AppState {
    fn from(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

/// What `AppState` holds.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Signs shopper cookies.
    pub cookie_key: Arc<[u8]>,
    /// Shoppers recognised recently (`identity::ShopperCache`).
    pub shoppers: Arc<identity::ShopperCache>,
    pub limits: Arc<ratelimit::RateLimiter>,
    pub payments: Arc<dyn buying::payment::PaymentProvider>,
    /// WeChat's web authorisation, when WeChat Pay's JSAPI is set up (the shoppers' openids).
    pub wechat_auth: Option<Arc<wechat::auth::WechatOAuth>>,
    /// WeChat's JS-SDK signature (`wx.config`), when an official account is set up.
    pub wechat_jssdk: Option<Arc<wechat::jssdk::JsSdk>>,
    /// The flash-sale order path: the gate (in memory on one node, a Redis script with
    /// several) and the batch writer. `None` only where a caller builds a state without it:
    /// each order is then one database transaction.
    pub sale: Option<Arc<buying::sale::Sale>>,
    /// Live coupons: the claim gate (in memory on one node, a Redis script with several)
    /// and its batch writer.
    pub coupons: Arc<buying::coupons::Coupons>,
    /// The live rooms' fan-out hub.
    pub live: Arc<live::Hub>,
    /// Image decodes allowed at once (`uploads::CONCURRENT_DECODES`): bounds upload memory.
    pub decodes: Arc<tokio::sync::Semaphore>,
    /// Delivers one-time codes for phone verification (`log` or `webhook`).
    pub code_sender: Arc<dyn phone::CodeSender>,
    /// Reminders to reservers: this node's sender and the links in what it sends.
    pub reminders: Arc<reminders::Reminders>,
    /// "A session changed" (what the host did, stock, purchases, the video): followed by the
    /// live rooms, the flash-sale gate and the media pipeline.
    pub changes: changes::Changes,
    /// This node's counters (`GET /metrics`).
    pub metrics: Arc<metrics::Metrics>,
}

/// Current time as Unix epoch milliseconds (the unit every timestamp column uses).
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Runs a long-lived task on a thread of its own, with a single-threaded Tokio runtime, and
/// returns at once. For the batch writers a flash sale waits on: each of their many awaits
/// (one per statement) would otherwise wake behind thousands of queued request tasks. The task
/// is built on its runtime by `make`; the thread ends with it. Called at start-up: a machine
/// that cannot start one more thread stops the start with a clear message.
pub fn spawn_dedicated<F, Fut>(name: &str, make: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(make()),
                Err(e) => tracing::error!(error = %e, "could not start a runtime for a writer"),
            }
        })
        .unwrap_or_else(|e| panic!("could not start the {name} thread: {e}"));
}

/// A batch writer's loop on a thread of its own (`spawn_dedicated`), reading the database
/// through a small pool of its own (`Db::own_pool`; the shared one if that cannot open).
pub fn spawn_batch_worker<F, Fut>(name: &'static str, db: &Db, run: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let main = db.clone();
    spawn_dedicated(name, move || async move {
        let db = match main.own_pool(2).await {
            Ok(db) => db,
            Err(e) => {
                tracing::warn!(error = %e, name, "no pool of its own; sharing the main one");
                main
            }
        };
        run(db).await
    });
}

/// Waits for the next item, then takes whatever else is already queued, up to `max`: one
/// batch of a batch writer. `None` once every sender is gone.
pub async fn next_batch<T>(rx: &mut tokio::sync::mpsc::Receiver<T>, max: usize) -> Option<Vec<T>> {
    let first = rx.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}
