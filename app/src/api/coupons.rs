//! Live coupons (issue 30): the studio drops and withdraws them and sees their counts; shoppers
//! in the live room see them and claim one with a tap. Pricing at checkout is the order's
//! (`buying::sale`): the client only shows it.

use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json};

use crate::{
    domain::coupon::CouponForm,
    error::AppError,
    model::{ClaimOutcome, CouponView, LiveCoupon, SessionId},
};

/// Producer or owner: drops a coupon into the live session; the room sees it at once.
#[server(endpoint = "studio/coupons/drop", input = Json)]
pub async fn studio_drop_coupon(
    session_id: SessionId,
    form: CouponForm,
) -> Result<LiveCoupon, AppError> {
    use shop_core::domain::{coupon::CouponDrop, team::Permission};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        Permission::DropCoupons,
    )
    .await?;
    let drop = CouponDrop::parse(&form).map_err(|e| AppError::bad_request(e.to_string()))?;
    let coupon = st
        .coupons
        .drop_coupon(&st.live, session_id, &drop, host.account_id)
        .await?;
    let what = format!(
        "coupon {}: {:?}, min {}, quota {}, {} min",
        coupon.id, coupon.value, coupon.min_spend, drop.quota, drop.minutes
    );
    shop_backend::repo::studio::audit(&st.db, Some(session_id), &host, "coupon", &what).await?;
    Ok(coupon)
}

/// Producer or owner: withdraws a coupon (no more claims; claimed ones no longer apply).
#[server(endpoint = "studio/coupons/withdraw")]
pub async fn studio_withdraw_coupon(session_id: SessionId, coupon_id: i64) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::DropCoupons,
    )
    .await?;
    st.coupons.withdraw(&st.live, session_id, coupon_id).await?;
    Ok(shop_backend::repo::studio::audit(
        &st.db,
        Some(session_id),
        &host,
        "coupon withdrawn",
        &format!("coupon {coupon_id}"),
    )
    .await?)
}

/// Producer or owner: the session's coupons, newest first, with claimed and used counts.
#[server(endpoint = "studio/coupons", input = GetUrl)]
pub async fn studio_coupons(session_id: SessionId) -> Result<Vec<CouponView>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::DropCoupons,
    )
    .await?;
    Ok(shop_backend::repo::coupons::studio_list(&st.db, session_id).await?)
}

/// The room's coupons for this viewer: the open ones, and the viewer's own claims.
#[server(endpoint = "live/coupons", input = GetUrl)]
pub async fn live_coupons(session_id: SessionId) -> Result<Vec<LiveCoupon>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::current_shopper(&st, &browser).await?;
    Ok(st
        .coupons
        .for_viewer(session_id, shopper.map(|s| s.id))
        .await?)
}

/// One tap: claims the coupon for the shopper. Claimed, all gone, already claimed and expired
/// are answers (200), not errors; an unknown coupon is a 404.
#[server(endpoint = "live/coupons/claim")]
pub async fn claim_coupon(session_id: SessionId, coupon_id: i64) -> Result<ClaimOutcome, AppError> {
    use shop_backend::ratelimit::Action;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    st.limits
        .check(Action::CouponClaim, &shopper.id.to_string())
        .await?;
    Ok(st.coupons.claim(session_id, coupon_id, shopper.id).await?)
}
