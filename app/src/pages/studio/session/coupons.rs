//! Live coupons in the studio (producers and owners): drop one into the live room (¥ or % off,
//! minimum spend, how many, valid for how long), and each coupon with its claimed and used
//! counts and Withdraw.

use leptos::prelude::*;

use super::{report, StatusLine};
use crate::{
    api::coupons::{studio_coupons, studio_drop_coupon, studio_withdraw_coupon},
    domain::{
        coupon::{CouponForm, CouponValue},
        money::Fen,
    },
    i18n::{t, tf, K},
    model::SessionId,
};

#[component]
pub(super) fn CouponsPanel(session_id: SessionId, msg: StatusLine) -> impl IntoView {
    let version = RwSignal::new(0u32);
    let list = LocalResource::new(move || {
        version.track();
        studio_coupons(session_id)
    });
    let percent = RwSignal::new(false);
    let value = RwSignal::new(String::from("10"));
    let min_spend = RwSignal::new(String::from("0"));
    let quota = RwSignal::new(String::from("100"));
    let minutes = RwSignal::new(String::from("10"));
    let drop = Action::new_local(move |form: &CouponForm| {
        let form = form.clone();
        async move {
            let res = studio_drop_coupon(session_id, form).await;
            report(msg, res.map(|_| t(K::studio_coupons_dropped)));
            version.update(|v| *v += 1);
        }
    });
    let withdraw = Action::new_local(move |id: &i64| {
        let id = *id;
        async move {
            let res = studio_withdraw_coupon(session_id, id).await;
            report(msg, res.map(|_| t(K::studio_coupons_withdrawn)));
            version.update(|v| *v += 1);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = coupon_form(
            percent.get_untracked(),
            &value.get_untracked(),
            &min_spend.get_untracked(),
            &quota.get_untracked(),
            &minutes.get_untracked(),
        );
        match form {
            Some(form) => {
                drop.dispatch(form);
            }
            None => msg.set(Some(Err(t(K::studio_coupons_bad_number)))),
        }
    };
    let field = |id: &'static str, label: K, sig: RwSignal<String>| {
        view! {
            <label for=id>{t(label)}</label>
            <input id=id type="text" inputmode="decimal" bind:value=sig/>
        }
    };
    view! {
        <section class="card coupons" aria-labelledby="coupons-title">
            <h2 id="coupons-title">{t(K::studio_coupons_title)}</h2>
            <form class="coupon-form" on:submit=submit>
                <label class="check"><input type="checkbox" bind:checked=percent/>" "{t(K::studio_coupons_percent)}</label>
                {field("coupon-value", K::studio_coupons_value, value)}
                {field("coupon-min", K::studio_coupons_min_spend, min_spend)}
                {field("coupon-quota", K::studio_coupons_quota, quota)}
                {field("coupon-minutes", K::studio_coupons_minutes, minutes)}
                <button type="submit" class="btn btn-primary" disabled=move || drop.pending().get()>{t(K::studio_coupons_drop)}</button>
            </form>
            <ul class="coupon-list">
                {move || list.get().map(|r| match r {
                    Ok(rows) if rows.is_empty() => view! { <li class="muted">{t(K::studio_coupons_none)}</li> }.into_any(),
                    Ok(rows) => rows.into_iter().map(|row| {
                        let c = row.coupon;
                        let off = match c.value {
                            CouponValue::AmountOff(f) => tf(K::live_coupon_amount_off, &[("amount", &f.to_string())]),
                            CouponValue::PercentOff(p) => tf(K::live_coupon_percent_off, &[("percent", &p.to_string())]),
                        };
                        let counts = tf(K::studio_coupons_counts, &[
                            ("claimed", &row.claimed.to_string()),
                            ("quota", &c.quota.to_string()),
                            ("used", &row.used.to_string()),
                        ]);
                        let id = c.id;
                        view! {
                            <li data-coupon-id=id>
                                <strong>{off}</strong>" "<span class="coupon-counts">{counts}</span>
                                {if c.withdrawn {
                                    view! { <span class="muted">" "{t(K::studio_coupons_withdrawn)}</span> }.into_any()
                                } else {
                                    view! { <button type="button" class="btn" on:click=move |_| { withdraw.dispatch(id); }>{t(K::studio_coupons_withdraw)}</button> }.into_any()
                                }}
                            </li>
                        }
                    }).collect_view().into_any(),
                    Err(e) => view! { <li class="error" role="alert">{e.to_string()}</li> }.into_any(),
                })}
            </ul>
        </section>
    }
}

/// The drop form's fields as the server function's form, or `None` when one is not a number.
/// The value is yuan (`15`, `9.90`) or, for a percent coupon, a whole percent; the minimum
/// spend is yuan and may be zero or left empty (no minimum: the form's default). The server
/// checks the ranges (`CouponDrop::parse`).
fn coupon_form(
    percent: bool,
    value: &str,
    min_spend: &str,
    quota: &str,
    minutes: &str,
) -> Option<CouponForm> {
    let whole = |s: &str| s.trim().parse::<i64>().ok();
    let value = if percent {
        whole(value)?
    } else {
        Fen::parse_yuan(value.trim()).ok()?.0
    };
    // `parse_yuan` refuses zero (a price is never ¥0); a minimum spend of zero is no minimum.
    let min = min_spend.trim().trim_start_matches(['¥', '￥']);
    let min_spend_fen = if min.is_empty() || min.chars().all(|c| c == '0' || c == '.') {
        0
    } else {
        Fen::parse_yuan(min).ok()?.0
    };
    Some(CouponForm {
        percent,
        value,
        min_spend_fen,
        quota: whole(quota)?,
        minutes: whole(minutes)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_form_with_no_minimum_spend_is_a_coupon() {
        let f = coupon_form(false, "10", "0", "100", "10").expect("the form's defaults");
        assert_eq!(
            (f.value, f.min_spend_fen, f.quota, f.minutes),
            (1_000, 0, 100, 10)
        );
        for none in ["", " ", "0.00", "¥0"] {
            assert_eq!(
                coupon_form(false, "10", none, "100", "10").map(|f| f.min_spend_fen),
                Some(0)
            );
        }
        assert_eq!(
            coupon_form(false, "9.90", "99", "1", "5").map(|f| (f.value, f.min_spend_fen)),
            Some((990, 9_900))
        );
        assert_eq!(
            coupon_form(true, "15", "0", "1", "5").map(|f| (f.percent, f.value)),
            Some((true, 15))
        );
        assert!(coupon_form(false, "ten", "0", "100", "10").is_none());
        assert!(coupon_form(false, "10", "lots", "100", "10").is_none());
        assert!(coupon_form(false, "10", "0", "", "10").is_none());
    }
}
