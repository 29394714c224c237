//! One node: the gate in memory. A session's stock, counters and idempotency keys, loaded from
//! the database once, decide each order without touching the database.

use super::*;
use crate::error::{OptionExt, Result};
use shop_core::{
    domain::coupon::CouponTerms,
    ids::{ProductId, ShopperId},
};

impl SaleState {
    pub(super) fn from_snapshot(
        snap: repo::SaleSnapshot,
        facts: Option<HashMap<ShopperId, ShopperFacts>>,
    ) -> SaleState {
        let facts_complete = facts.is_some();
        let mut variants_of: HashMap<ProductId, Vec<i64>> = HashMap::new();
        for (id, product_id, ..) in &snap.variants {
            variants_of.entry(*product_id).or_default().push(*id);
        }
        SaleState {
            variants: snap
                .variants
                .into_iter()
                .map(|(id, _, name, price, stock)| {
                    let v = VariantStock { name, price, stock };
                    (id, v)
                })
                .collect(),
            variants_of,
            retired: false,
            status: snap.status,
            policy: snap.policy,
            names: snap
                .products
                .iter()
                .map(|(id, .., name, image)| (*id, (name.clone(), image.clone())))
                .collect(),
            title: snap.title,
            products: snap
                .products
                .into_iter()
                .map(|(id, price, stock, presented, discounted, ..)| {
                    (
                        id,
                        ProductStock {
                            price,
                            presented,
                            stock,
                            discounted,
                        },
                    )
                })
                .collect(),
            counters: snap
                .counters
                .into_iter()
                .map(|(p, s, units, discounted)| ((p, s), Counter { units, discounted }))
                .collect(),
            keys: snap
                .keys
                .into_iter()
                .map(|(shopper, key, hash, id)| {
                    (
                        (shopper, key),
                        KeyEntry {
                            hash,
                            order: Some(id),
                        },
                    )
                })
                .collect(),
            facts: facts
                .unwrap_or_default()
                .into_iter()
                .map(|(id, f)| (id, Some(f)))
                .collect(),
            facts_complete,
            facts_gen: 0,
        }
    }

    /// The gate: the same checks, in the same order and with the same answers, as the
    /// one-transaction path (`repo::orders::reserve_order`).
    pub(super) fn admit(
        &mut self,
        shopper_id: ShopperId,
        req: &PlaceOrder,
        fetched: Option<&ShopperFacts>,
        provider: &'static str,
        coupons: &[(i64, CouponTerms)],
    ) -> Result<Decision> {
        let hash = req.request_hash();
        if let Some(e) = self.keys.get(&(shopper_id, req.key.as_str().to_string())) {
            return if e.hash == hash {
                Ok(Decision::Existing(e.order))
            } else {
                Err(key_reused().into())
            };
        }
        allows(self.status, Activity::Buy)?;
        let policy = self.policy;
        let qty = req.quantity.get();
        if qty > policy.purchase_limit {
            return Err(repo::over_purchase_limit(policy.purchase_limit).into());
        }
        let qty_i = i64::from(qty);
        let product = *self
            .products
            .get(&req.product_id)
            .ok_or_else(|| repo::not_enough_stock(None))?;
        if product.stock < qty_i {
            return Err(repo::not_enough_stock(Some(product.stock)).into());
        }
        let ids = self
            .variants_of
            .get(&req.product_id)
            .map_or(&[][..], Vec::as_slice);
        let (price, variant) = match repo::pick_variant(ids, |id| *id, req.variant_id)? {
            None => (product.price, None),
            Some(id) => {
                let v = self
                    .variants
                    .get(id)
                    .or_fault("a variant the sale picked is not loaded")?;
                if v.stock < qty_i {
                    return Err(repo::not_enough_stock(Some(v.stock)).into());
                }
                (
                    unit_price(product.price, v.price),
                    Some((*id, v.name.clone())),
                )
            }
        };
        let counter = self
            .counters
            .get(&(req.product_id, shopper_id))
            .copied()
            .unwrap_or_default();
        if counter.units + qty_i > i64::from(policy.purchase_limit) {
            return Err(repo::purchase_limit_reached(policy.purchase_limit).into());
        }
        let facts = match (self.facts.get(&shopper_id), fetched) {
            (Some(Some(f)), _) => f.clone(),
            (None, _) if self.facts_complete => ShopperFacts::default(),
            (_, Some(f)) => f.clone(),
            _ => return Ok(Decision::NeedFacts),
        };
        let elig = eligibility(&policy, &facts);
        let order = new_order(
            shopper_id,
            req,
            hash,
            provider,
            &policy,
            &elig,
            (price, product.presented),
            (product.discounted, counter.discounted),
            variant,
            coupons,
        )
        .ok_or_else(|| AppError::bad_request("That order is too large."))?;
        if req.expected_total.is_some_and(|seen| seen != order.total()) {
            return Err(AppError::PriceChanged {
                total: order.total(),
            }
            .into());
        }
        let stock_after = self.apply(&order, 1);
        let (name, image) = self
            .names
            .get(&order.product_id)
            .cloned()
            .unwrap_or_default();
        let view = repo::order_view(OrderId(0), &order, &self.title, &name, &image);
        self.keys.insert(
            (shopper_id, order.key.clone()),
            KeyEntry {
                hash: order.request_hash.clone(),
                order: None,
            },
        );
        Ok(Decision::New(Box::new(order), stock_after, Box::new(view)))
    }

    /// Takes (`sign` 1) or gives back (-1) an order's units and discount; the stock after.
    pub(super) fn apply(&mut self, o: &NewOrder, sign: i64) -> i64 {
        let units = i64::from(o.quote.quantity) * sign;
        let discounted = i64::from(o.quote.discounted_units) * sign;
        let variant = o.variant.as_ref().map(|v| v.0);
        self.apply_line(o.product_id, variant, o.shopper_id, units, discounted)
    }

    pub(super) fn apply_line(
        &mut self,
        product_id: ProductId,
        variant_id: Option<i64>,
        shopper_id: ShopperId,
        units: i64,
        discounted: i64,
    ) -> i64 {
        if let Some(v) = variant_id.and_then(|id| self.variants.get_mut(&id)) {
            v.stock -= units;
        }
        let c = self.counters.entry((product_id, shopper_id)).or_default();
        c.units += units;
        c.discounted += discounted;
        match self.products.get_mut(&product_id) {
            Some(p) => {
                p.stock -= units;
                p.discounted += discounted;
                p.stock
            }
            None => 0,
        }
    }

    /// An admitted order that will not be written after all.
    pub(super) fn undo(&mut self, o: &NewOrder) {
        self.apply(o, -1);
        self.keys.remove(&(o.shopper_id, o.key.clone()));
    }
}

/// Discounted units this shopper may have of a product: the policy's, when eligible and the
/// product was presented.
pub(super) fn discount_allowance(
    policy: &DiscountPolicy,
    elig: &Eligibility,
    presented: bool,
) -> i64 {
    if elig.is_eligible() && presented {
        i64::from(policy.units_per_shopper)
    } else {
        0
    }
}

/// Prices an order by the pure rules (`quote_line`) from the product's (price, presented)
/// and the discounted units sold so far (of the product, to this shopper), and builds what
/// the writer persists: the one place both gates do it. The best of the shopper's `coupons`
/// applies to what is left after the invite discount (`domain::coupon::best`). `None` when
/// the total overflows.
#[allow(clippy::too_many_arguments)]
pub(super) fn new_order(
    shopper_id: ShopperId,
    req: &PlaceOrder,
    request_hash: String,
    provider: &'static str,
    policy: &DiscountPolicy,
    elig: &Eligibility,
    (price, presented): (Fen, bool),
    (product_discounted, shopper_discounted): (i64, i64),
    variant: Option<(i64, String)>,
    coupons: &[(i64, CouponTerms)],
) -> Option<NewOrder> {
    let quote = quote_line(
        policy,
        elig,
        &ProductFacts {
            price,
            presented,
            discounted_so_far: count(product_discounted),
        },
        count(shopper_discounted),
        req.quantity.get(),
    )?;
    Some(NewOrder {
        shopper_id,
        session_id: req.session_id,
        product_id: req.product_id,
        variant,
        key: req.key.as_str().to_string(),
        request_hash,
        rule: line_rule(elig, presented, &quote),
        percent_off: policy.percent_off,
        invite_id: if elig.is_eligible() {
            elig.invite_id()
        } else {
            None
        },
        provider,
        created_at_ms: now_ms(),
        purchase_limit: i64::from(policy.purchase_limit),
        discount_allowance: discount_allowance(policy, elig, presented),
        coupon: crate::domain::coupon::best(coupons, quote.paid),
        quote,
    })
}
