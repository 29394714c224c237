//! The host studio's server side. Every function first checks that the caller is signed in as
//! a host (anonymous: 401, shopper: 403), then that they own the session (another host: 403),
//! and only then looks at the arguments, so an unauthorised caller learns nothing and changes
//! nothing.

use crate::model::{OrderId, ProductId, SessionId};
use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json, MultipartData, MultipartFormData};

use crate::{
    error::AppError,
    model::{
        Dashboard, HostMe, ProductForm, RefundState, SessionForm, SessionSummary, ShipImport,
        StudioOrder, StudioSession, VariantForm, VariantView,
    },
};

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::{
        error::AppError,
        model::{HostMe, OrderId},
    };
    use shop_backend::{identity::host_auth::Host, request::Browser, AppState};

    pub async fn host_me(st: &AppState, host: &Host) -> Result<HostMe, AppError> {
        let display_name = shop_backend::identity::host_auth::display_name(st, host).await?;
        Ok(HostMe {
            host_id: host.host_id,
            display_name,
            email: host.email.clone(),
            role: host.role,
        })
    }

    /// An order of one of the calling host's sessions (401 for no host, 404, 403).
    pub async fn order_owner(
        st: &AppState,
        browser: &Browser,
        order_id: OrderId,
        permission: shop_core::domain::team::Permission,
    ) -> Result<(Host, shop_backend::repo::orders::RefundFacts), AppError> {
        use shop_backend::identity::host_auth;
        let host = host_auth::require(st, browser, permission).await?;
        let facts = shop_backend::repo::orders::refund_facts(&st.db, order_id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such order".into()))?;
        host_auth::check_owner(st, &host, facts.session_id).await?;
        Ok((host, facts))
    }
}

#[server(endpoint = "host/sign_up")]
pub async fn host_sign_up(
    display_name: String,
    email: String,
    password: String,
) -> Result<HostMe, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host =
        shop_backend::identity::host_auth::sign_up(&st, &browser, &display_name, &email, &password)
            .await?;
    ssr::host_me(&st, &host).await
}

#[server(endpoint = "host/sign_in")]
pub async fn host_sign_in(email: String, password: String) -> Result<HostMe, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::sign_in(&st, &browser, &email, &password).await?;
    ssr::host_me(&st, &host).await
}

#[server(endpoint = "host/sign_out")]
pub async fn host_sign_out() -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    Ok(shop_backend::identity::host_auth::sign_out(&st, &browser).await?)
}

/// The signed-in host, or `None`.
#[server(endpoint = "host/me", input = GetUrl)]
pub async fn current_host() -> Result<Option<HostMe>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_host(&st, &browser).await;
    match host.map_err(AppError::from) {
        Ok(host) => Ok(Some(ssr::host_me(&st, &host).await?)),
        Err(AppError::Unauthorized | AppError::Forbidden(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[server(endpoint = "studio/sessions", input = GetUrl)]
pub async fn studio_sessions() -> Result<Vec<SessionSummary>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::ViewShow,
    )
    .await?;
    Ok(shop_backend::repo::studio::host_sessions(&st.db, host.host_id).await?)
}

#[server(endpoint = "studio/session/create", input = Json)]
pub async fn studio_create_session(form: SessionForm) -> Result<SessionId, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::repo::studio::create_session(&st.db, host.host_id, &form).await?)
}

#[server(endpoint = "studio/session", input = GetUrl)]
pub async fn get_studio_session(session_id: SessionId) -> Result<StudioSession, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::ViewShow,
    )
    .await?;
    Ok(shop_backend::repo::studio::studio_session(&st.db, session_id).await?)
}

#[server(endpoint = "studio/session/update", input = Json)]
pub async fn studio_update_session(
    session_id: SessionId,
    form: SessionForm,
) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::update_session(&st, &host, session_id, &form).await?)
}

#[server(endpoint = "studio/session/delete")]
pub async fn studio_delete_session(session_id: SessionId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::delete_session(&st, &host, session_id).await?)
}

#[server(endpoint = "studio/product/add", input = Json)]
pub async fn studio_add_product(session_id: SessionId, form: ProductForm) -> Result<i64, AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::add_product(&st, &host, session_id, &form).await?)
}

#[server(endpoint = "studio/product/update", input = Json)]
pub async fn studio_update_product(
    product_id: ProductId,
    form: ProductForm,
) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::update_product(&st, &host, product_id, &form).await?)
}

/// Replaces a product's variants (shade, size): each with its own stock and optional price;
/// an empty list leaves it without. The product's stock becomes the sum of theirs.
#[server(endpoint = "studio/product/variants", input = Json)]
pub async fn studio_set_variants(
    product_id: ProductId,
    variants: Vec<VariantForm>,
) -> Result<Vec<VariantView>, AppError> {
    let list = crate::domain::variant::parse_variants(&variants)?;
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::set_variants(&st, &host, product_id, &list).await?)
}

#[server(endpoint = "studio/product/delete")]
pub async fn studio_delete_product(product_id: ProductId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::delete_product(&st, &host, product_id).await?)
}

/// Moves a product one place earlier (`delta = -1`) or later (`+1`) in the run of show.
#[server(endpoint = "studio/product/move")]
pub async fn studio_move_product(product_id: ProductId, delta: i64) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::move_product(&st, &host, product_id, delta).await?)
}

/// Uploads a cover (`kind=cover`, `id`=session id) or product image (`kind=product`,
/// `id`=product id). Multipart fields: `kind`, `id`, `file`. Returns the image URL.
#[server(endpoint = "studio/upload", input = MultipartFormData)]
pub async fn studio_upload_image(data: MultipartData) -> Result<String, AppError> {
    use shop_backend::{
        identity::host_auth,
        repo::studio,
        uploads::{self, ImageKind},
    };
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host =
        host_auth::require(&st, &browser, shop_core::domain::team::Permission::EditShow).await?;
    let mut multipart = data
        .into_inner()
        .ok_or_else(|| AppError::bad_request("Malformed upload."))?;
    let (mut kind, mut id, mut file) = (None, None, None::<Vec<u8>>);
    let malformed = |_| AppError::bad_request("Malformed upload.");
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        match field.name().unwrap_or_default() {
            "kind" => {
                kind = Some(ImageKind::parse(
                    field.text().await.map_err(malformed)?.trim(),
                )?)
            }
            "id" => {
                id = field
                    .text()
                    .await
                    .map_err(malformed)?
                    .trim()
                    .parse::<i64>()
                    .ok()
            }
            "file" => {
                let mut buf = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                    if buf.len() + chunk.len() > uploads::MAX_UPLOAD_BYTES {
                        return Err(AppError::bad_request(
                            "The image is larger than 8 MB. Please choose a smaller one.",
                        ));
                    }
                    buf.extend_from_slice(&chunk);
                }
                file = Some(buf);
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| AppError::bad_request("Malformed upload: missing kind."))?;
    let id = id.ok_or_else(|| AppError::bad_request("Malformed upload: missing id."))?;
    // The id names the session (a cover) or the product (its image).
    let session_id = match kind {
        ImageKind::Cover => SessionId(id),
        ImageKind::Product => studio::product_session(&st.db, ProductId(id)).await?,
    };
    host_auth::check_owner(&st, &host, session_id).await?;
    let file = file.ok_or_else(|| AppError::bad_request("Choose an image to upload."))?;
    // At most CONCURRENT_DECODES decodes at once, each bounded by MAX_PIXELS.
    let permit = st
        .decodes
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| AppError::Internal)?;
    let processed = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        uploads::process(&file, kind)
    })
    .await
    .map_err(|_| AppError::Internal)??;
    let url = uploads::store(&st.settings.upload_dir, &processed.jpeg).await?;
    studio::record_upload(
        &st.db,
        url.trim_start_matches("/media/"),
        host.host_id,
        kind.as_str(),
        (processed.width, processed.height),
        processed.jpeg.len(),
    )
    .await?;
    match kind {
        ImageKind::Cover => studio::set_cover(&st.db, session_id, &url).await?,
        ImageKind::Product => studio::set_product_image(&st.db, ProductId(id), &url).await?,
    }
    Ok(url)
}

/// Starts (`on`) or stops a private rehearsal of a scheduled session: only the team sees the
/// room, shoppers keep seeing "starts in", nothing can be bought, and what it did is discarded
/// when it stops or the show goes live.
#[server(endpoint = "studio/rehearse")]
pub async fn rehearse(session_id: SessionId, on: bool) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::rehearse(&st, &host, session_id, on).await?)
}

#[server(endpoint = "studio/go_live")]
pub async fn go_live(session_id: SessionId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::go_live(&st, &host, session_id).await?)
}

/// The product being explained now; records it as presented, which opens its discount.
#[server(endpoint = "studio/present")]
pub async fn present_product(product_id: ProductId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::present(&st, &host, product_id).await?)
}

/// Presents the next product in the run of show; returns its id.
#[server(endpoint = "studio/present_next")]
pub async fn present_next(session_id: SessionId) -> Result<ProductId, AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::present_next(&st, &host, session_id).await?)
}

#[server(endpoint = "studio/sold_out")]
pub async fn mark_sold_out(product_id: ProductId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::mark_sold_out(&st, &host, product_id).await?)
}

/// Live to ended: buying stops, invites expire.
#[server(endpoint = "studio/end")]
pub async fn end_session(session_id: SessionId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let host = shop_backend::identity::host_auth::require(
        &st,
        &crate::api::browser(),
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(shop_backend::studio::end(&st, &host, session_id).await?)
}

/// Refunds a paid order of one of the host's sessions, whole, through the payment provider.
#[server(endpoint = "studio/orders/refund")]
pub async fn refund_order(order_id: OrderId, reason: String) -> Result<RefundState, AppError> {
    use crate::domain::text::clean_line;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let (host, facts) = ssr::order_owner(
        &st,
        &browser,
        order_id,
        shop_core::domain::team::Permission::Refund,
    )
    .await?;
    let reason = if reason.trim().is_empty() {
        "Refund by the seller".to_string()
    } else {
        clean_line(&reason, 80).map_err(|_| {
            AppError::bad_request("The reason is one line of at most 80 characters.")
        })?
    };
    let state = shop_backend::buying::orders::refund(&st, order_id, &reason).await?;
    shop_backend::repo::studio::audit(
        &st.db,
        Some(facts.session_id),
        &host,
        "refund",
        &format!("order {order_id}: {reason}"),
    )
    .await?;
    Ok(state)
}

/// A session's orders for the studio, newest first, by filter: `all`, `awaiting_payment`,
/// `paid`, `to_ship`, `shipped`, `refunded`.
#[server(endpoint = "studio/orders", input = GetUrl)]
pub async fn studio_orders(
    session_id: SessionId,
    filter: String,
) -> Result<Vec<StudioOrder>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::HandleOrders,
    )
    .await?;
    Ok(shop_backend::repo::orders::studio_orders(&st.db, session_id, &filter).await?)
}

/// Marks a paid order shipped with its carrier and tracking number (again: corrects them).
#[server(endpoint = "studio/orders/ship")]
pub async fn ship_order(
    order_id: OrderId,
    carrier: String,
    tracking_no: String,
) -> Result<(), AppError> {
    use crate::domain::shipping::Tracking;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let (host, facts) = ssr::order_owner(
        &st,
        &browser,
        order_id,
        shop_core::domain::team::Permission::HandleOrders,
    )
    .await?;
    let tracking =
        Tracking::parse(&carrier, &tracking_no).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let now = shop_backend::now_ms();
    shop_backend::repo::orders::ship(&st.db, facts.session_id, order_id, &tracking, now).await?;
    Ok(shop_backend::repo::studio::audit(
        &st.db,
        Some(facts.session_id),
        &host,
        "ship",
        &format!("order {order_id}: {} {}", tracking.carrier, tracking.number),
    )
    .await?)
}

/// Ships orders from CSV text, one `order_id,carrier,tracking_number` per line (a header
/// line is skipped). Each line stands alone: the good ones are applied, the others listed.
#[server(endpoint = "studio/orders/import_tracking")]
pub async fn import_tracking(session_id: SessionId, csv: String) -> Result<ShipImport, AppError> {
    use crate::domain::shipping::{is_import_header, parse_import_line};
    // The largest import, and how many refused lines are listed back.
    const MAX_IMPORT_LINES: usize = 5000;
    const MAX_IMPORT_ERRORS: usize = 50;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::HandleOrders,
    )
    .await?;
    let lines: Vec<&str> = csv.lines().collect();
    if lines.len() > MAX_IMPORT_LINES {
        return Err(AppError::bad_request(format!(
            "At most {MAX_IMPORT_LINES} lines at a time."
        )));
    }
    let mut result = ShipImport {
        shipped: 0,
        errors: Vec::new(),
    };
    let now = shop_backend::now_ms();
    let locale = browser.locale();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() || (i == 0 && is_import_header(line)) {
            continue;
        }
        // What is wrong with a line, in the host's language (the reasons are `errors` texts).
        let said = |e: String| crate::i18n::translate_message(locale, &e).unwrap_or(e);
        let outcome = match parse_import_line(line) {
            Ok((order_id, tracking)) => {
                shop_backend::repo::orders::ship(&st.db, session_id, order_id, &tracking, now)
                    .await
                    .map_err(|e| {
                        crate::i18n::text_f(
                            locale,
                            crate::i18n::K::server_import_order,
                            &[
                                ("id", &order_id.to_string()),
                                ("reason", &said(e.to_string())),
                            ],
                        )
                    })
            }
            Err(e) => Err(said(e)),
        };
        match outcome {
            Ok(()) => result.shipped += 1,
            Err(e) if result.errors.len() < MAX_IMPORT_ERRORS => {
                result.errors.push(crate::i18n::text_f(
                    locale,
                    crate::i18n::K::server_import_line,
                    &[("n", &(i + 1).to_string()), ("reason", &e)],
                ))
            }
            Err(_) => {}
        }
    }
    shop_backend::repo::studio::audit(
        &st.db,
        Some(session_id),
        &host,
        "import_tracking",
        &format!(
            "{} shipped, {} lines refused",
            result.shipped,
            result.errors.len()
        ),
    )
    .await?;
    Ok(result)
}

#[server(endpoint = "studio/dashboard", input = GetUrl)]
pub async fn studio_dashboard(session_id: SessionId) -> Result<Dashboard, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::ViewFigures,
    )
    .await?;
    // Every node's viewers; the dashboard still loads (without them) while Redis is down.
    let viewers = st.live.viewers(session_id).await.unwrap_or(None);
    Ok(shop_backend::repo::studio::dashboard(&st.db, session_id, viewers).await?)
}
