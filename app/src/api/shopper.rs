//! The shopper on a session page: identity, nickname, reservation and the per-viewer state
//! (discount status and the price of each product for this viewer).

use crate::model::SessionId;
use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{Me, ViewerState},
};

/// The calling shopper; creates the account (and its cookie) on first visit.
#[server(endpoint = "me")]
pub async fn whoami() -> Result<Me, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::shopper_or_create(&st, &browser).await?;
    let mut me = shopper.me();
    me.wechat_jssdk = st.wechat_jssdk.is_some();
    if st.wechat_auth.is_some() {
        me.wechat_auth_needed = shop_backend::repo::shoppers::wechat_openid(&st.db, shopper.id)
            .await?
            .is_none();
    }
    Ok(me)
}

#[server(endpoint = "me/nickname")]
pub async fn set_nickname(nickname: String) -> Result<Me, AppError> {
    use shop_backend::{identity, ratelimit::Action};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::shopper_or_create(&st, &browser).await?;
    st.limits
        .check(Action::Nickname, &shopper.id.to_string())
        .await?;
    Ok(identity::set_nickname(&st, &shopper, &nickname).await?.me())
}

/// Reserves a seat in a scheduled or live session (harmless when repeated).
#[server(endpoint = "sessions/reserve")]
pub async fn reserve(session_id: SessionId) -> Result<ViewerState, AppError> {
    use shop_backend::{identity, ratelimit::Action, repo::shopping};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::shopper_or_create(&st, &browser).await?;
    st.limits
        .check(Action::Reserve, &shopper.id.to_string())
        .await?;
    shopping::reserve(&st.db, session_id, shopper.id).await?;
    shop_backend::buying::sale::forget_shoppers(&st, &[shopper.id]);
    ssr::viewer_state(&st, &shopper, session_id, browser.locale()).await
}

/// Everything the session page shows that depends on who is looking.
#[server(endpoint = "sessions/viewer", input = server_fn::codec::GetUrl)]
pub async fn get_viewer_state(session_id: SessionId) -> Result<ViewerState, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::shopper_or_create(&st, &browser).await?;
    ssr::viewer_state(&st, &shopper, session_id, browser.locale()).await
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::model::SessionId;
    use crate::{
        domain::{
            discount::{count, eligibility, quote_line, ProductFacts},
            money::Fen,
        },
        error::AppError,
        model::{InviteLink, ProductOffer, ViewerState},
    };
    use shop_backend::{identity::Shopper, repo::shopping, AppState};

    pub fn invite_link(public_url: &str, code: &str) -> InviteLink {
        InviteLink {
            code: code.to_string(),
            url: format!("{public_url}/i/{code}"),
            poster_path: format!("/i/{code}/poster.png"),
        }
    }

    pub async fn viewer_state(
        st: &AppState,
        shopper: &Shopper,
        session_id: SessionId,
        locale: crate::i18n::Locale,
    ) -> Result<ViewerState, AppError> {
        let db = &st.db;
        let status = shopping::session_status(db, session_id).await?;
        let policy = shopping::policy(db, session_id).await?;
        let facts = shopping::shopper_facts(db, session_id, shopper.id).await?;
        let elig = eligibility(&policy, &facts);
        let invite = shopping::own_invite(db, session_id, shopper.id).await?;
        // A rehearsal is the team's: shoppers see the scheduled session, nothing presented.
        let rehearsal = status == crate::model::SessionStatus::Rehearsal;
        let status = status.public();
        let current = match rehearsal {
            true => None,
            false => shopping::current_product(db, session_id).await?,
        };
        let offers = shopping::offer_rows(db, session_id, shopper.id)
            .await?
            .into_iter()
            .map(
                |(id, price, stock, presented_at, discounted_so_far, units, used)| {
                    let presented_at = presented_at.filter(|_| !rehearsal);
                    let facts = ProductFacts {
                        price: Fen(price),
                        presented: presented_at.is_some(),
                        discounted_so_far: count(discounted_so_far),
                    };
                    // The same rule checkout applies: the next unit's price, and how many of
                    // the units this viewer may still buy would be discounted.
                    let used = count(used.unwrap_or(0));
                    let next = quote_line(&policy, &elig, &facts, used, 1);
                    let (your_price, discounted) =
                        next.map_or((Fen(price), false), |q| (q.paid, q.discounted_units > 0));
                    let allowance = policy
                        .purchase_limit
                        .saturating_sub(count(units.unwrap_or(0)))
                        .max(1);
                    let all = quote_line(&policy, &elig, &facts, used, allowance);
                    let (discounted_units_left, discount_per_unit) = all
                        .map_or((0, Fen::ZERO), |q| {
                            (i64::from(q.discounted_units), q.discount_per_unit)
                        });
                    ProductOffer {
                        product_id: id,
                        presented: presented_at.is_some(),
                        explaining_now: current == Some(id),
                        stock,
                        price: Fen(price),
                        your_price,
                        discounted,
                        bought_units: units.unwrap_or(0),
                        discounted_units_left,
                        discount_per_unit,
                        discounted_bought: i64::from(used),
                    }
                },
            )
            .collect();
        Ok(ViewerState {
            me: shopper.me(),
            session_id,
            status,
            reserved: facts.reserved,
            reservation_count: shopping::reservation_count(db, session_id).await?,
            invite: invite.map(|i| invite_link(&st.settings.public_url, &i.code)),
            // The count the discount goes by; friends still to verify are said apart.
            friends_joined: i64::from(if policy.verified_phone_required {
                facts.verified_friends
            } else {
                facts.friends_joined
            }),
            friends_waiting: if policy.verified_phone_required {
                i64::from(facts.friends_joined.saturating_sub(facts.verified_friends))
            } else {
                0
            },
            joined_via: facts.joined_via.map(|(_, name)| name),
            eligible: elig.is_eligible(),
            percent_off: i64::from(policy.percent_off),
            discount_text: shop_backend::texts::eligibility(&elig, locale),
            payment_label: shop_backend::texts::payment_label(st.payments.label(), locale),
            purchase_limit: i64::from(policy.purchase_limit),
            offers,
            phone_required: policy.verified_phone_required,
            phone: shop_backend::repo::phones::verified_phone(db, shopper.id)
                .await?
                .map(|p| p.masked()),
        })
    }
}
