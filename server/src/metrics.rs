//! `GET /metrics`: this node's counters in Prometheus text format, for the addresses in
//! `APP_METRICS_ALLOW` only (judged by the client address: the TCP peer, or behind a trusted
//! proxy the client it forwards, so a local balancer does not open it to everyone), and the
//! middleware that counts responses by status.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use shop_backend::{
    metrics::{Gauges, Metrics},
    request::ClientAddr,
};
use shop_core::error::AppError;

use crate::{security::error_response, ServerState};

pub async fn serve(State(state): State<ServerState>, req: Request) -> Response {
    // The client as `client_addr::record` found it: behind a trusted balancer that is the
    // forwarded client, not the balancer (a balancer on 127.0.0.1 would otherwise open
    // `/metrics` to everyone it relays).
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    if !client.is_some_and(|ip| state.metrics_allow.iter().any(|n| n.contains(&ip))) {
        return error_response(AppError::Forbidden(
            "Metrics are served to the monitoring addresses only.".into(),
        ));
    }
    let live = &state.app.live;
    let gauges = Gauges {
        viewers: u64::try_from(live.local_viewers()).unwrap_or(0),
        rooms: live.room_count() as u64,
        open_fds: open_fds(),
        redis: live.backplane().map(|bp| (bp.up(), bp.rtt())),
    };
    let mut body = state.app.metrics.render(&gauges);
    state.media.streams.metrics.render(&mut body);
    state.media.fanout.render(&mut body);
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// Open file descriptors of this process (the limit a node runs into first).
fn open_fds() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64)
}

/// Counts every response by status.
pub async fn count_responses(
    State(metrics): State<Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    metrics.response(res.status().as_u16());
    res
}
