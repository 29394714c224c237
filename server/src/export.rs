//! Plain HTTP routes for files: uploaded images (`/media/{name}`) and the host's CSV export of
//! a session's orders (`/studio/s/{id}/orders.csv`).

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use shop_core::ids::SessionId;

use shop_backend::{
    identity::host_auth::{self, Host},
    repo::studio,
    uploads,
};
use shop_core::{domain::time::datetime, error::AppError};

use crate::{security::error_response, ServerState};

/// `GET /media/{name}`: an uploaded image. Names are content hashes, so they never change.
pub async fn media(
    State(state): State<ServerState>,
    Path(name): Path<String>,
    req: axum::extract::Request,
) -> Response {
    if !uploads::is_valid_name(&name) {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    let path = state.app.settings.upload_dir.join(&name);
    crate::assets::serve_file(&path, req, "image/jpeg", crate::assets::IMMUTABLE).await
}

/// RFC 4180 field: quoted when it holds a comma, quote or line break; cells that a spreadsheet
/// would run as a formula are prefixed with a quote mark.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn iso_utc(ms: i64) -> String {
    let t = datetime(ms, 0);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

pub const CSV_HEADER: &str = "order_id,created_at_utc,status,shopper_id,shopper_nickname,shopper_phone,product_id,product_name,variant,quantity,unit_price_cny,full_amount_cny,discount_cny,paid_cny,discount_rule,fulfilment,carrier,tracking_number,ship_to_recipient,ship_to_phone,ship_to_province,ship_to_city,ship_to_district,ship_to_street,invite_code";

/// `GET /studio/s/{id}/orders.csv`: one row per order line. For the shop's roles that handle orders (401/403 otherwise).
pub async fn orders_csv(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    host: Result<Host, AppError>,
    headers: axum::http::HeaderMap,
) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    let Ok(session_id) = id.parse::<SessionId>() else {
        return error_response(AppError::not_found("This live session does not exist."));
    };
    let st = &state.app;
    let host = match host {
        Ok(h) => h,
        Err(e) => return error_response(e),
    };
    // The orders carry delivery addresses: the roles that handle orders only.
    if let Err(e) = host.require(shop_core::domain::team::Permission::HandleOrders) {
        return error_response(AppError::from(e));
    }
    if let Err(e) = host_auth::check_owner(st, &host, session_id).await {
        return error_response(e);
    }
    let lines = match studio::export_lines(&st.db, session_id).await {
        Ok(l) => l,
        Err(e) => return error_response(e),
    };
    let mut out = String::with_capacity(128 * (lines.len() + 1));
    // Column names in the host's language (English: `CSV_HEADER`).
    out.push_str(shop_core::i18n::text(
        locale,
        shop_core::i18n::K::server_csv_header,
    ));
    out.push_str("\r\n");
    for l in lines {
        let row = [
            l.order_id.to_string(),
            iso_utc(l.created_at_ms),
            l.status,
            l.shopper_id.to_string(),
            csv_field(&l.shopper_nickname),
            l.shopper_phone.unwrap_or_default(),
            l.product_id.to_string(),
            csv_field(&l.product_name),
            csv_field(&l.variant),
            l.quantity.to_string(),
            l.unit_price.to_yuan_string(),
            l.full_amount.to_yuan_string(),
            l.discount.to_yuan_string(),
            l.paid.to_yuan_string(),
            l.rule,
            l.fulfilment,
            csv_field(&l.carrier.unwrap_or_default()),
            l.tracking_no.unwrap_or_default(),
            // The address the shopper gave the seller for this parcel, in full.
            csv_field(&l.ship_to.as_ref().map(|a| a[0].clone()).unwrap_or_default()),
            l.ship_to.as_ref().map(|a| a[1].clone()).unwrap_or_default(),
            csv_field(&l.ship_to.as_ref().map(|a| a[2].clone()).unwrap_or_default()),
            csv_field(&l.ship_to.as_ref().map(|a| a[3].clone()).unwrap_or_default()),
            csv_field(&l.ship_to.as_ref().map(|a| a[4].clone()).unwrap_or_default()),
            csv_field(&l.ship_to.as_ref().map(|a| a[5].clone()).unwrap_or_default()),
            l.invite_code.unwrap_or_default(),
        ];
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    let mut res = out.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"session-{session_id}-orders.csv\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formula_safe() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("小小包"), "小小包");
    }
}

#[cfg(test)]
mod header_tests {
    use shop_core::i18n::{self, Locale, K};

    /// The English column names are `CSV_HEADER`; every language names the same columns.
    #[test]
    fn every_language_names_every_column() {
        assert_eq!(
            i18n::text(Locale::En, K::server_csv_header),
            super::CSV_HEADER
        );
        let n = super::CSV_HEADER.split(',').count();
        for l in i18n::LOCALES {
            assert_eq!(
                i18n::text(l, K::server_csv_header).split(',').count(),
                n,
                "{l:?}"
            );
        }
    }
}
