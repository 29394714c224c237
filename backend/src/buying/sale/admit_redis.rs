//! Several nodes: admitting an order through the gate in Redis (`redis_gate`), with the facts
//! this node reads in batches and caches per state token.

use super::*;
use crate::error::{Error, Result, ResultExt};
use shop_core::ids::ShopperId;

impl Sale {
    /// Admission with several nodes: a first look in Redis (a retried key, or sold out: no
    /// database read), then the session's status, policy, product and the shopper's facts
    /// from the database, then the atomic admission script.
    pub(super) async fn admit_redis(
        &self,
        gate: &Arc<RedisGate>,
        shopper_id: ShopperId,
        req: &PlaceOrder,
        mut limit: Option<(u32, std::time::Duration)>,
        coupons: &[(i64, CouponTerms)],
    ) -> Result<Admitted> {
        let db = &self.inner.db;
        let (sid, pid) = (req.session_id, req.product_id);
        let field = sale_redis::key_field(shopper_id, req.key.as_str());
        let hash = req.request_hash();
        let qty = i64::from(req.quantity.get());
        // A retried key: its order, or `None` when its batch was lost with the node that
        // admitted it (the session's state is then loaded again from the database).
        let existing = |prior: &str| -> Result<Option<Admitted>> {
            let (h, id) = prior.split_once('|').unwrap_or((prior, ""));
            if h != hash {
                return Err(key_reused().into());
            }
            if let Ok(id) = id.parse() {
                return Ok(Some(Admitted::Existing(id)));
            }
            let since: i64 = id.trim_start_matches('~').parse().unwrap_or(0);
            if now_ms().saturating_sub(since) > sale_redis::PENDING_LOST_MS {
                Ok(None)
            } else {
                Err(AppError::Busy.into())
            }
        };
        // -1: no such product in the session.
        let short = |stock: i64| repo::not_enough_stock((stock >= 0).then_some(stock));
        let mut facts: Option<(repo::SaleFacts, ShopperFacts)> = None;
        for _ in 0..250 {
            // The rate-limit token is taken once per request, by its first look.
            let token = match gate
                .peek(sid, pid, shopper_id, &field, limit.take())
                .await?
            {
                Peek::Limited => return Err(AppError::RateLimited.into()),
                Peek::Unloaded => {
                    if !gate.load(db, sid).await? {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    continue;
                }
                Peek::Existing(prior) => match existing(&prior)? {
                    Some(found) => return Ok(found),
                    None => {
                        gate.forget(sid).await?;
                        continue;
                    }
                },
                Peek::Stock(n, _) if n < qty => return Err(short(n).into()),
                Peek::Stock(_, token) => token,
            };
            let (sale, shopper) = match &facts {
                Some(f) => f.clone(),
                None => {
                    let sale = match self.cached_sale_facts(sid, pid, &token) {
                        Some(sale) => sale,
                        None => {
                            let sale = repo::sale_facts(db, sid, pid).await?;
                            self.cache_sale_facts(sid, pid, &token, &sale);
                            sale
                        }
                    };
                    allows(sale.status, Activity::Buy)?;
                    let shopper = self.shopper_facts(sid, shopper_id).await?;
                    facts.insert((sale, shopper)).clone()
                }
            };
            let (policy, presented) = (sale.policy, sale.presented);
            let (price, variant) =
                match repo::pick_variant(&sale.variants, |v| v.0, req.variant_id)? {
                    None => (sale.price, None),
                    Some((id, name, own)) => {
                        (unit_price(sale.price, *own), Some((*id, name.clone())))
                    }
                };
            let variant_id = variant.as_ref().map(|v| v.0);
            if req.quantity.get() > policy.purchase_limit {
                return Err(repo::over_purchase_limit(policy.purchase_limit).into());
            }
            let elig = eligibility(&policy, &shopper);
            let allowance = discount_allowance(&policy, &elig, presented);
            let cap = policy.units_cap.map_or(-1, i64::from);
            let limit = i64::from(policy.purchase_limit);
            let admitted = gate
                .admit(
                    sid,
                    (pid, variant_id),
                    shopper_id,
                    &field,
                    &hash,
                    qty,
                    limit,
                    allowance,
                    cap,
                )
                .await?;
            let (stock_after, shopper_disc, product_disc, discounted) = match admitted {
                Admit::Unloaded => continue,
                Admit::Existing(prior) => match existing(&prior)? {
                    Some(found) => return Ok(found),
                    None => {
                        gate.forget(sid).await?;
                        continue;
                    }
                },
                Admit::Stock(n) => return Err(short(n).into()),
                Admit::Limit => {
                    return Err(repo::purchase_limit_reached(policy.purchase_limit).into())
                }
                Admit::Admitted {
                    stock_after,
                    shopper_discounted,
                    product_discounted,
                    discounted,
                } => (
                    stock_after,
                    shopper_discounted,
                    product_discounted,
                    discounted,
                ),
            };
            let give_back = || {
                gate.give_back(
                    sid,
                    (pid, variant_id),
                    shopper_id,
                    qty,
                    discounted,
                    Some(&field),
                )
            };
            let priced = new_order(
                shopper_id,
                req,
                hash.clone(),
                self.inner.provider,
                &policy,
                &elig,
                (price, presented),
                (product_disc, shopper_disc),
                variant,
                coupons,
            );
            let Some(order) = priced.filter(|o| i64::from(o.quote.discounted_units) == discounted)
            else {
                give_back().await?;
                return Err(Error::fault(format!(
                    "the Redis gate and quote_line disagree (session {sid}, product {pid})"
                )));
            };
            if req.expected_total.is_some_and(|seen| seen != order.total()) {
                give_back().await?;
                return Err(AppError::PriceChanged {
                    total: order.total(),
                }
                .into());
            }
            let mut view = Box::new(repo::order_view(
                OrderId(0),
                &order,
                &sale.title,
                &sale.name,
                &sale.image_url,
            ));
            let (tx, rx) = oneshot::channel();
            let job = Job::Place {
                sale: Target::Redis(gate.clone()),
                order: Box::new(order),
                done: tx,
            };
            if self.inner.jobs.try_send(job).is_err() {
                give_back().await?;
                return Err(AppError::Busy.into());
            }
            view.id = rx.await.fault("the order writer stopped")??;
            return Ok(Admitted::New {
                order: view,
                stock_after,
            });
        }
        Err(AppError::Busy.into())
    }
}
