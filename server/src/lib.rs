//! The axum server: serves the Wasm client, the server functions under `/api`, health checks;
//! owns configuration, the database connection and background tasks.

pub mod api_guard;
pub mod assets;
pub mod calendar;
pub mod client_addr;
pub mod config;
pub mod demo;
pub mod embed;
pub mod export;
pub mod first_paint;
pub mod html;
pub mod live_sse;
pub mod locales;
pub mod media;
pub mod metrics;
pub mod payments;
pub mod poster;
pub mod reminder_links;
pub mod security;
pub mod share;
pub mod wechat_auth;

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::DefaultBodyLimit,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware,
    response::{IntoResponse, Response},
    routing::{any, get, post},
    Json, Router,
};
use leptos::prelude::provide_context;
use tokio::net::TcpListener;
use tower_http::{catch_panic::CatchPanicLayer, trace::TraceLayer};

use shop_backend::{
    buying::payment::DemoPayment, identity, ratelimit::RateLimiter, AppState, Db, Settings,
};
use shop_core::error::AppError;

use crate::{
    assets::{Assets, Bundle},
    config::Config,
};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct ServerState(Arc<ServerParts>);

impl std::ops::Deref for ServerState {
    type Target = ServerParts;
    fn deref(&self) -> &ServerParts {
        &self.0
    }
}

/// What `ServerState` holds; cloned for every request by axum, so kept behind one `Arc`.
pub struct ServerParts {
    pub app: AppState,
    pub assets: Arc<Assets>,
    /// The Content-Security-Policy header value, computed once.
    pub csp: Arc<str>,
    /// `scheme://host[:port]` of `APP_PUBLIC_URL`, accepted as a same-origin `Origin`.
    pub public_origin: Arc<str>,
    pub poster_renderer: Arc<poster::PosterRenderer>,
    pub posters: Arc<share::PosterCache>,
    pub media: media::Media,
    /// Flips to `true` when the server shuts down: open event streams end then.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// Load balancers whose forwarding headers name the client (`APP_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Who may read `/metrics` (`APP_METRICS_ALLOW`).
    pub metrics_allow: Arc<[ipnet::IpNet]>,
    /// WeChat Pay, when it is the payment provider (its notifications come to us).
    pub wechat: Option<Arc<shop_backend::buying::payment::wechat_pay::WechatPay>>,
    /// Where WeChat's domain verification files (`MP_verify_*.txt`) are.
    pub wechat_verify_dir: Option<Arc<std::path::Path>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] shop_backend::DbError),
    #[error("could not load the client from {dir}: {source}")]
    Assets { dir: String, source: std::io::Error },
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not load demo data: {0}")]
    Demo(shop_core::error::AppError),
    #[error("could not prepare the database: {}", shop_backend::error::Chain(.0))]
    Init(shop_backend::error::Error),
    #[error("could not load the poster fonts: {0}")]
    Poster(#[from] poster::PosterError),
    #[error("distributed mode: {0}")]
    Redis(String),
    #[error("payment provider: {0}")]
    Payment(String),
}

/// Builds the router. Tests call this with their own state and drive it with `oneshot`.
pub fn app(state: ServerState) -> Router {
    // Outermost first: CSRF check, then the gate (endpoint, method, content type, size,
    // UTF-8; body limits per endpoint replace axum's default), then statuses for errors.
    let api = Router::new()
        .route("/api/{*fn_name}", any(server_fn_handler))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(security::api_error_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api_guard::guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::same_origin_writes,
        ));
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::serve))
        .route("/", get(share::home_page))
        .route("/s/{id}", get(share::session_page))
        .route("/s/{id}/calendar.ics", get(calendar::session_ics))
        .route("/i/{code}", get(share::invite_page))
        .route("/r/{token}", get(reminder_links::open))
        .route("/embed/{id}", get(embed::room))
        .route("/i18n/{file}", get(locales::catalogue))
        .route("/i/{code}/poster.png", get(share::poster_png))
        .route("/media/{name}", get(export::media))
        .route("/live/{id}/events", get(live_sse::events))
        .route(
            "/whip/{session}",
            post(media::whip::publish).layer(DefaultBodyLimit::max(media::MAX_SDP_BYTES)),
        )
        .route(
            "/whip/{session}/{resource}",
            axum::routing::delete(media::whip::unpublish),
        )
        .route("/hls/{session}/{file}", get(media::serve::serve))
        .route(
            "/whep/{session}",
            post(media::whep::play).layer(DefaultBodyLimit::max(media::MAX_SDP_BYTES)),
        )
        .route(
            "/whep/{session}/{resource}",
            axum::routing::delete(media::whep::leave),
        )
        .route("/media/relay/{session}", get(media::relay::serve))
        .route(
            "/media/relay/{session}/keyframe",
            post(media::relay::keyframe),
        )
        .route("/media/auth", post(media::whip::external_auth))
        .route("/studio/s/{id}/orders.csv", get(export::orders_csv))
        .route("/payments/qr.svg", get(payments::qr_svg))
        .route("/wechat/auth", get(wechat_auth::start))
        .route("/wechat/auth/callback", get(wechat_auth::callback))
        .route(
            "/payments/wechat/notify",
            post(payments::wechat_notify)
                .layer(DefaultBodyLimit::max(payments::MAX_NOTIFICATION_BYTES)),
        )
        .merge(api)
        .fallback(static_or_spa)
        // The identity extractors (`Shopper`, `Host`) read the app state from here.
        .layer(axum::Extension(state.app.clone()));
    security::with_security_headers(routes, &state.csp)
        .layer(middleware::from_fn_with_state(
            state.app.metrics.clone(),
            metrics::count_responses,
        ))
        .layer(middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            client_addr::record,
        ))
        .layer(TraceLayer::new_for_http())
        // The last resort: a panic in any handler is logged and answered with a 500, never a
        // dropped connection.
        .layer(CatchPanicLayer::custom(security::panic_response))
        .with_state(state)
}

async fn server_fn_handler(State(state): State<ServerState>, req: Request<Body>) -> Response {
    if leptos::server_fn::axum::get_server_fn_service(req.uri().path(), req.method().clone())
        .is_none()
    {
        return security::error_response(AppError::not_found("No such API endpoint."));
    }
    let app_state = state.app.clone();
    leptos_axum::handle_server_fns_with_context(move || provide_context(app_state.clone()), req)
        .await
        .into_response()
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<ServerState>) -> Response {
    match state.app.db.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": "unreachable" })),
            )
                .into_response()
        }
    }
}

/// Built files by path; any other page path gets `index.html` and the client router decides.
async fn static_or_spa(State(state): State<ServerState>, req: Request) -> Response {
    let head_only = req.method() == Method::HEAD;
    if !(req.method() == Method::GET || head_only) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = req.uri().path();
    if let Some(asset) = state.assets.get(path) {
        let mut res = asset.respond(req.headers(), head_only);
        if path == embed::DEMO_PAGE {
            embed::allow_framing_rooms(&state, &mut res);
        }
        return res;
    }
    // A missing file (has an extension) or API path is a plain 404, not the app shell.
    let last = path.rsplit('/').next().unwrap_or("");
    if let Some(dir) = &state.wechat_verify_dir {
        if let Some(file) = wechat_verify_file(path) {
            return match tokio::fs::read(dir.join(file)).await {
                Ok(body) if body.len() <= 1024 => (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; charset=utf-8",
                    )],
                    if head_only { Vec::new() } else { body },
                )
                    .into_response(),
                _ => (StatusCode::NOT_FOUND, "Not found").into_response(),
            };
        }
    }
    if last.contains('.') || path.starts_with("/api/") {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    let locale = shop_backend::request::locale_of(req.headers());
    // The studio is a bundle of its own; so is the live room, which has "My orders" (with the
    // pay sheet's addresses).
    let bundle = if path == "/studio" || path.starts_with("/studio/") {
        Bundle::Studio
    } else if path == "/orders" {
        Bundle::Live
    } else {
        Bundle::Shop
    };
    share::shell(&state, bundle, None, StatusCode::OK, head_only, locale)
}

/// `/MP_verify_<token>.txt` (WeChat's domain verification): the file name, nothing else (no
/// other characters, so no way out of the directory).
fn wechat_verify_file(path: &str) -> Option<&str> {
    let name = path.strip_prefix('/')?;
    let token = name.strip_prefix("MP_verify_")?.strip_suffix(".txt")?;
    (!token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(name)
}

/// Connects the database, applies migrations, loads demo data if asked, loads the client.
pub async fn build_state(config: &Config) -> Result<ServerState, StartError> {
    let db = Db::connect(&config.database.url).await?;
    db.migrate().await?;
    if config.server.demo_data {
        demo::ensure_demo_data(&db)
            .await
            .map_err(StartError::Demo)?;
    }
    let assets = Assets::load(&config.server.dist_dir).map_err(|source| StartError::Assets {
        dir: config.server.dist_dir.display().to_string(),
        source,
    })?;
    let csp = security::content_security_policy(&assets.shells(), &config.server.frame_ancestors);
    let cookie_key: Arc<[u8]> = match &config.server.cookie_secret {
        Some(secret) => secret.0.as_bytes().into(),
        None => identity::load_or_create_cookie_key(&db)
            .await
            .map_err(StartError::Init)?
            .into(),
    };
    let settings = Settings {
        public_url: config.server.public_url.clone(),
        secure_cookies: config.server.public_url.starts_with("https://"),
        upload_dir: config.server.upload_dir.clone(),
        media: config.media.backend.clone(),
        restream_allow_private: config.media.restream_allow_private,
    };
    // Distributed mode (REDIS_URL): rooms, counters and limits shared through Redis.
    let backplane = match &config.database.redis_url {
        Some(url) => Some(
            shop_backend::live::backplane::RedisBackplane::connect(&url.0)
                .await
                .map_err(StartError::Redis)?,
        ),
        None => None,
    };
    let metrics = Arc::new(shop_backend::metrics::Metrics::default());
    let (live, limits) = match &backplane {
        Some(bp) => (
            shop_backend::live::Hub::distributed(bp.clone(), db.clone(), metrics.clone()),
            RateLimiter::shared(config.server.rate_limit_scale, bp.clone()),
        ),
        None => (
            Arc::new(shop_backend::live::Hub::new(metrics.clone())),
            RateLimiter::new(config.server.rate_limit_scale),
        ),
    };
    let broadcasts = Arc::new(media::Broadcasts::default());
    let media_dir = match &config.media.backend {
        shop_backend::media::MediaBackend::Embedded { media_dir } => media_dir.clone(),
        shop_backend::media::MediaBackend::External { .. } => {
            std::path::PathBuf::from("data/media")
        }
    };
    let streams = Arc::new(media::stream::Streams::new(
        media_dir.clone(),
        config.media.hls_live_segments,
    ));
    let (payments, wechat): (Arc<dyn shop_backend::buying::payment::PaymentProvider>, _) =
        match &config.payment {
            config::PaymentSettings::Demo => (Arc::new(DemoPayment::new(db.clone())), None),
            config::PaymentSettings::Wechat(cfg) => {
                let pay = Arc::new(
                    shop_backend::buying::payment::wechat_pay::WechatPay::new((**cfg).clone())
                        .map_err(|e| StartError::Payment(e.to_string()))?,
                );
                (pay.clone(), Some(pay))
            }
        };
    let provider = payments.name();
    // Orders go through the flash-sale gate (in memory on one node, in Redis with several)
    // and its batch writer.
    let sale = Arc::new(shop_backend::buying::sale::Sale::start(
        db.clone(),
        provider,
        backplane.clone(),
    ));
    sale.reconcile()
        .await
        .map_err(|e| StartError::Redis(format!("flash-sale state: {e}")))?;
    let coupons = Arc::new(shop_backend::buying::coupons::Coupons::start(
        db.clone(),
        backplane.clone(),
    ));
    coupons
        .reconcile()
        .await
        .map_err(|e| StartError::Redis(format!("coupon state: {e}")))?;
    // "A session changed", followed in this order: the live rooms (before the change's author
    // answers), the sale gate, the media pipeline.
    let changes = shop_backend::changes::Changes::default();
    changes.follow(live.clone());
    changes.follow(sale.clone());
    changes.follow(broadcasts.clone());
    let sale = Some(sale);
    let shoppers = Arc::new(identity::ShopperCache::new(identity::SHOPPER_TTL));
    if let Some(bp) = &backplane {
        identity::follow_nickname_changes(&shoppers, bp.clone());
    }
    // Reminders: this node's sender loop (every node runs one; the rows say who sends what).
    let code_sender = code_sender(config);
    let reminders = shop_backend::reminders::Reminders::new(
        db.clone(),
        format!(
            "{}#{}",
            config.server.node_url,
            shop_backend::crypto::random_token::<6>().map_err(StartError::Init)?
        ),
        config.server.public_url.clone(),
        Arc::from(shop_backend::crypto::derive_key(&cookie_key, "reminder-links").as_slice()),
        code_sender.clone(),
        Some(web_push(&db, config).await?),
        shop_backend::reminders::Rates {
            sms: config.sms_reminders_per_sec,
            ..Default::default()
        },
    );
    reminders.start();
    let state = ServerState(Arc::new(ServerParts {
        app: AppState::from(shop_backend::Services {
            sale,
            coupons,
            db,
            settings: Arc::new(settings),
            cookie_key,
            shoppers,
            limits: Arc::new(limits),
            payments,
            wechat_auth: config
                .wechat
                .oauth
                .clone()
                .map(|c| Arc::new(shop_backend::wechat::auth::WechatOAuth::new(c))),
            wechat_jssdk: config.wechat.jssdk.clone().map(|c| {
                Arc::new(shop_backend::wechat::jssdk::JsSdk::new(
                    c,
                    backplane.clone(),
                ))
            }),
            live,
            decodes: Arc::new(tokio::sync::Semaphore::new(
                shop_backend::uploads::CONCURRENT_DECODES,
            )),
            code_sender,
            reminders,
            changes,
            metrics,
        }),
        assets: Arc::new(assets),
        csp: csp.into(),
        public_origin: config.server.public_url.clone().into(),
        poster_renderer: Arc::new(poster::PosterRenderer::new()?),
        posters: Arc::new(share::PosterCache::default()),
        media: media::Media {
            settings: Arc::new(media::MediaSettings {
                media_dir,
                ip: config.media.ip,
                ffmpeg: config.media.ffmpeg.clone(),
                ladder: config.media.ladder.clone(),
                whep_max_viewers: config.media.whep_max_viewers,
            }),
            fanout: Arc::new(media::fanout::Fanout::default()),
            whep_viewers: Arc::default(),
            relays: Arc::default(),
            broadcasts,
            shield: backplane.as_ref().map(|bp| {
                Arc::new(media::shield::Shield::new(
                    bp.clone(),
                    config.server.node_url.clone(),
                    streams.metrics.clone(),
                ))
            }),
            streams,
        },
        shutdown: Arc::new(tokio::sync::watch::channel(false).0),
        trusted_proxies: config.server.trusted_proxies.clone().into(),
        metrics_allow: config.server.metrics_allow.clone().into(),
        wechat,
        wechat_verify_dir: config.wechat.verify_dir.clone().map(Into::into),
    }));
    // Orders left awaiting payment (by a crash, or a provider that settles later): resolved
    // now and then every so often, well within the payment timeout.
    let every = (config.payment_timeout / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(30),
    );
    shop_backend::buying::orders::spawn_resolver(state.app.clone(), config.payment_timeout, every);
    // Lucky draws whose countdown ended are closed by whichever node gets there first.
    shop_backend::draws::spawn_closer(state.app.clone());
    Ok(state)
}

/// The configured delivery of one-time codes.
/// Web Push with the configured VAPID key, or the one kept in the database (generated on the
/// first start, so every node signs with the same key browsers subscribed to).
async fn web_push(
    db: &Db,
    config: &Config,
) -> Result<shop_backend::reminders::web_push::WebPush, StartError> {
    use shop_backend::reminders::web_push::{Vapid, WebPush};
    let private = match &config.push.vapid_private_key {
        Some(k) => k.0.clone(),
        None => {
            let fresh = Vapid::generate()
                .map_err(|e| StartError::Init(shop_backend::error::Error::fault(e)))?;
            shop_backend::repo::shoppers::secret_or_insert(db, "vapid_private_key", &fresh)
                .await
                .map_err(StartError::Init)?
        }
    };
    let vapid = Vapid::from_base64(&private, config.push.vapid_subject.clone()).map_err(|e| {
        StartError::Init(shop_backend::error::Error::fault(format!(
            "APP_VAPID_PRIVATE_KEY: {e}"
        )))
    })?;
    Ok(WebPush::new(vapid, config.push.allow_private))
}

fn code_sender(config: &Config) -> Arc<dyn shop_backend::phone::CodeSender> {
    use shop_backend::phone::{LogSender, WebhookSender};
    match &config.sms {
        config::SmsSender::Log { explicit } => {
            if *explicit && config.server.public_url.starts_with("https://") {
                tracing::warn!("APP_SMS_SENDER=log on an https deployment: one-time codes go to the log and are shown on the page; use webhook for real shoppers");
            }
            Arc::new(LogSender)
        }
        config::SmsSender::Webhook { url, secret } => Arc::new(WebhookSender::new(
            url.clone(),
            secret.0.as_bytes().to_vec(),
        )),
    }
}

/// Listens on `addr`; with `reuse_port`, with `SO_REUSEPORT` so several nodes on one machine
/// share the port (the kernel spreads new connections over them).
async fn listen(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    if !reuse_port {
        return TcpListener::bind(addr).await;
    }
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    /// `APP_NODE_BIND`: this node alone, for the other nodes.
    node_listener: Option<TcpListener>,
    state: ServerState,
    config: Config,
}

impl Server {
    pub async fn bind(mut config: Config) -> Result<Server, StartError> {
        let listener = listen(config.server.bind, config.server.reuse_port)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.server.bind,
                source,
            })?;
        let node_listener = match config.server.node_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        // The default public and node URLs name the bound address; with port 0 that is known
        // only now.
        let node_addr = match (&node_listener, config.server.node_bind) {
            (Some(l), Some(configured)) => l.local_addr().ok().map(|a| (configured, a)),
            _ => listener.local_addr().ok().map(|a| (config.server.bind, a)),
        };
        if let Some((configured, actual)) = node_addr {
            if config.server.node_url == config::default_node_url(configured) {
                config.server.node_url = config::default_node_url(actual);
            }
        }
        if config.server.public_url == format!("http://{}", config.server.bind) {
            if let Ok(addr) = listener.local_addr() {
                config.server.public_url = format!("http://{addr}");
            }
        }
        if config.server.reuse_port
            && config.database.redis_url.is_some()
            && config.server.node_bind.is_none()
        {
            tracing::warn!(
                node_url = %config.server.node_url,
                "APP_REUSE_PORT without APP_NODE_BIND: other nodes fetching this node's video may reach a sibling instead"
            );
        }
        let state = build_state(&config).await?;
        Ok(Server {
            listener,
            node_listener,
            state,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.config.server.bind)
    }

    pub fn state(&self) -> &ServerState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish for up to the
    /// configured grace period.
    ///
    /// The accept loop is ours rather than `axum::serve`'s for one reason: memory per live
    /// viewer. A connection whose first request opens a live room's event stream is served by
    /// `live_sse::serve_lean` with a few hundred bytes of state instead of hyper's two 8 KiB
    /// buffers (which hyper allocates for every HTTP/1 connection and never shrinks). Every
    /// other connection goes to hyper and the axum router as usual.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::{
            rt::{TokioExecutor, TokioIo},
            server::{conn::auto, graceful::GracefulShutdown},
        };
        let Server {
            listener,
            node_listener,
            state,
            config,
        } = self;
        let db = state.app.db.clone();
        let router = app(state.clone());
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let from_node = async {
                match &node_listener {
                    Some(l) => l.accept().await,
                    None => std::future::pending().await,
                }
            };
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = from_node => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed (node address)");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // Small, latency-sensitive writes (SSE frames): no Nagle delay.
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            let (state, router, builder, watcher) = (
                state.clone(),
                router.clone(),
                builder.clone(),
                graceful.watcher(),
            );
            // Looking at the first bytes happens in the connection's own task, so a slow client
            // never holds up the accept loop.
            tokio::spawn(async move {
                if live_sse::is_fresh_stream_request(&tcp).await {
                    return live_sse::serve_lean(tcp, state).await;
                }
                let service = hyper::service::service_fn(
                    move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        tower::ServiceExt::oneshot(router.clone(), req.map(Body::new))
                    },
                );
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .into_owned();
                if let Err(e) = watcher.watch(conn).await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        drop(node_listener);
        tracing::info!("shutting down: finishing in-flight requests");
        state.shutdown.send_replace(true);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(config.server.shutdown_grace) => {
                tracing::warn!(grace = ?config.server.shutdown_grace, "grace period over; closing remaining connections");
            }
        }
        db.close().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives during start-up is not lost (the
/// default action would kill the process without a graceful shutdown).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! { () = wait(term) => {}, () = wait(int) => {} }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
