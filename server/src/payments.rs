//! Payment providers calling us back: WeChat Pay's payment and refund notifications. A plain
//! route (no cookie, no CSRF token: the provider signs its requests); nothing is believed
//! before the signature, the platform serial and the timestamp check out and the body
//! decrypts. The same notification may come again (the platform retries until it gets a
//! 2xx): settling is idempotent.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use shop_backend::{
    buying::orders::{payment_notified, refund_notified},
    buying::payment::wechat_pay::{Notice, Signed, WxError},
    now_ms,
};
use shop_core::domain::money::Fen;

use crate::ServerState;

/// The largest notification body we read (they are about 1 KB).
pub const MAX_NOTIFICATION_BYTES: usize = 64 * 1024;

/// Answers the platform the way its documentation asks for: 204 when accepted, else a
/// status with `{"code": "FAIL", "message": ...}` (it tries again later).
fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "code": "FAIL", "message": message }))).into_response()
}

/// A notification we could not take: WeChat Pay retries it later. The fault is logged here.
fn failed(err: shop_backend::error::Error) -> Response {
    let err = shop_core::error::AppError::from(err);
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    fail(status, &err.to_string())
}

pub async fn wechat_notify(
    State(st): State<ServerState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(pay) = st.wechat.as_ref() else {
        return fail(StatusCode::NOT_FOUND, "WeChat Pay is not configured here");
    };
    let notice = match pay.notification(&Signed::from_headers(&headers), &body, now_ms() / 1000) {
        Ok(notice) => notice,
        Err(e @ WxError::Undecodable(_)) => {
            tracing::warn!(error = %e, "WeChat Pay notification undecodable");
            return fail(StatusCode::BAD_REQUEST, "undecodable");
        }
        Err(e) => {
            tracing::warn!(error = %e, "WeChat Pay notification refused");
            return fail(StatusCode::UNAUTHORIZED, "signature");
        }
    };
    match notice {
        Notice::Transaction { id, tx } => {
            let outcome = tx.outcome();
            match payment_notified(&st.app, &tx.out_trade_no, Fen(tx.total), outcome).await {
                Ok(done) => {
                    tracing::info!(id, order = %tx.out_trade_no, state = %tx.trade_state, ?done, "WeChat Pay notification");
                    StatusCode::NO_CONTENT.into_response()
                }
                Err(e) => failed(e),
            }
        }
        Notice::Refund { id, refund } => {
            tracing::info!(id, order = %refund.out_trade_no, refund = %refund.out_refund_no, status = %refund.status, "WeChat Pay refund notification");
            match refund_notified(&st.app, &refund.out_refund_no, refund.outcome()).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => failed(e),
            }
        }
    }
}

/// `GET /payments/qr.svg?data=weixin://wxpay/...`: the QR code of a WeChat Pay Native
/// `code_url`, for the confirmation to show (drawn here: no QR code library in the client's
/// bundle). Only WeChat Pay links are drawn.
pub async fn qr_svg(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let data = q.get("data").map(String::as_str).unwrap_or("");
    if !data.starts_with("weixin://wxpay/") || data.len() > 256 {
        return (StatusCode::BAD_REQUEST, "only a WeChat Pay code_url").into_response();
    }
    let Ok(code) = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
    else {
        return (StatusCode::BAD_REQUEST, "cannot be drawn").into_response();
    };
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    (
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response()
}
