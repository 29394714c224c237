//! Payment as a provider interface. The default provider confirms at once and is labelled
//! "demo payment" in the UI; a real provider (WeChat Pay, Alipay) implements the same trait.
//!
//! Every charge carries a merchant order number (`order-{id}`) that is unique per order. A
//! provider makes at most one charge per number and answers `query` for it, which is how an
//! order left between stock and payment (a crash, a timeout) is resolved later
//! (`buying::orders::resolve_pending`).

pub mod wechat_pay;

use shop_core::ids::{OrderId, ShopperId};
use std::{future::Future, pin::Pin};

use tokio::sync::{mpsc, oneshot};

use crate::{db::Db, domain::money::Fen, repo::payments};

#[derive(Debug, Clone)]
pub struct Charge {
    pub order_id: OrderId,
    pub shopper_id: ShopperId,
    pub amount: Fen,
    pub description: String,
    pub payer: Payer,
}

/// Where the shopper pays from: decides how a provider that waits for the shopper asks them
/// (WeChat Pay: JSAPI inside WeChat, H5 in another phone browser, a QR code otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payer {
    pub in_wechat: bool,
    pub mobile: bool,
    pub client_ip: String,
    /// The shopper's openid for the merchant's app id, once WeChat's web authorisation gave it.
    pub wechat_openid: Option<String>,
}

impl Payer {
    /// From a request's `User-Agent` and client address.
    pub fn from_user_agent(user_agent: &str, client_ip: String) -> Payer {
        let ua = user_agent.to_ascii_lowercase();
        Payer {
            in_wechat: ua.contains("micromessenger"),
            mobile: ["mobile", "android", "iphone", "ipad"]
                .iter()
                .any(|m| ua.contains(m)),
            client_ip,
            wechat_openid: None,
        }
    }
}

impl Charge {
    pub fn merchant_ref(&self) -> String {
        merchant_ref(self.order_id)
    }
}

/// The merchant order number we give the provider for an order.
pub fn merchant_ref(order_id: OrderId) -> String {
    format!("order-{order_id}")
}

/// The order a merchant order number names (`None` for anything we did not make).
pub fn order_id(merchant_ref: &str) -> Option<OrderId> {
    merchant_ref
        .strip_prefix("order-")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .filter(|id: &i64| *id > 0)
        .map(OrderId)
}

#[derive(Debug, Clone, PartialEq)]
pub enum PaymentOutcome {
    Confirmed {
        reference: String,
    },
    Declined {
        reason: String,
    },
    /// Not settled yet (the shopper has not paid, or the provider could not be asked): the
    /// order keeps its units until it is settled or its payment time runs out.
    Pending,
    /// Pending, and the shopper pays this way (the provider notifies us when they did).
    Awaiting(crate::model::PayAction),
}

/// A refund of a paid order, whole.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub merchant_ref: String,
    /// Our refund number (`refund-{order}`): one refund per order.
    pub out_refund_no: String,
    pub amount: Fen,
    /// What the order was paid.
    pub total: Fen,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Succeeded {
        reference: String,
    },
    /// Accepted, not done yet (the provider notifies), or the provider could not be asked:
    /// asking again with the same refund number is safe.
    Pending,
    Refused {
        reason: String,
    },
}

pub type PaymentFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait PaymentProvider: Send + Sync {
    /// Stable name recorded on each order.
    fn name(&self) -> &'static str;
    /// Shown to shoppers next to the Pay button.
    fn label(&self) -> &'static str;
    /// Charges an order. Asking again for the same merchant order number never charges twice:
    /// it answers the first charge's outcome.
    fn charge<'a>(&'a self, charge: &'a Charge) -> PaymentFuture<'a, PaymentOutcome>;
    /// The outcome of the charge made for `merchant_ref`; `None` when none was ever made.
    fn query<'a>(&'a self, merchant_ref: &'a str) -> PaymentFuture<'a, Option<PaymentOutcome>>;
    /// Gives an order's money back. Asking again with the same refund number is the same
    /// refund (never a second one).
    fn refund<'a>(&'a self, refund: &'a RefundRequest) -> PaymentFuture<'a, RefundOutcome>;
    /// The order was released unpaid: the provider must not take a payment for it any more.
    fn cancel<'a>(&'a self, _merchant_ref: &'a str) -> PaymentFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Confirms every charge at once, and keeps its own ledger (`demo_payments`) so that a charge
/// is made once per merchant order number and can be looked up after a crash. For demos and
/// tests only. Charges are written in batches (one transaction for all that arrive while the
/// previous batch commits), as a flash sale asks thousands at once.
pub struct DemoPayment {
    db: Db,
    ledger: mpsc::Sender<LedgerWrite>,
}

struct LedgerWrite {
    merchant_ref: String,
    amount: Fen,
    done: oneshot::Sender<bool>,
}

impl DemoPayment {
    /// Starts the ledger's writer (needs a Tokio runtime).
    pub fn new(db: Db) -> DemoPayment {
        let (tx, rx) = mpsc::channel(65_536);
        crate::spawn_batch_worker("payment-ledger", &db, move |db| write_ledger(db, rx));
        DemoPayment { db, ledger: tx }
    }

    fn reference(merchant_ref: &str) -> String {
        format!("demo-{merchant_ref}")
    }
}

async fn write_ledger(db: Db, mut rx: mpsc::Receiver<LedgerWrite>) {
    while let Some(batch) = crate::next_batch(&mut rx, 512).await {
        let charges: Vec<(&str, Fen, String)> = batch
            .iter()
            .map(|c| {
                let reference = DemoPayment::reference(&c.merchant_ref);
                (c.merchant_ref.as_str(), c.amount, reference)
            })
            .collect();
        let started = std::time::Instant::now();
        let written = payments::record_demo_charges(&db, &charges).await;
        tracing::debug!(
            charges = charges.len(),
            ms = started.elapsed().as_millis() as u64,
            "demo ledger batch committed"
        );
        if let Err(e) = &written {
            tracing::error!(error = %e, "demo payment ledger: write failed");
        }
        for c in batch {
            let _ = c.done.send(written.is_ok());
        }
    }
}

impl PaymentProvider for DemoPayment {
    fn name(&self) -> &'static str {
        "demo"
    }
    fn label(&self) -> &'static str {
        "Demo payment: no money is charged"
    }
    fn charge<'a>(&'a self, charge: &'a Charge) -> PaymentFuture<'a, PaymentOutcome> {
        Box::pin(async move {
            let merchant_ref = charge.merchant_ref();
            let (done, written) = oneshot::channel();
            let sent = self
                .ledger
                .send(LedgerWrite {
                    merchant_ref: merchant_ref.clone(),
                    amount: charge.amount,
                    done,
                })
                .await;
            if sent.is_err() || !written.await.unwrap_or(false) {
                return PaymentOutcome::Pending;
            }
            PaymentOutcome::Confirmed {
                reference: Self::reference(&merchant_ref),
            }
        })
    }
    fn refund<'a>(&'a self, refund: &'a RefundRequest) -> PaymentFuture<'a, RefundOutcome> {
        // No money moved, none goes back: the refund is done at once.
        Box::pin(async move {
            RefundOutcome::Succeeded {
                reference: format!("demo-{}", refund.out_refund_no),
            }
        })
    }
    fn query<'a>(&'a self, merchant_ref: &'a str) -> PaymentFuture<'a, Option<PaymentOutcome>> {
        Box::pin(async move {
            let found = payments::demo_charge(&self.db, merchant_ref).await;
            match found {
                Ok(Some(reference)) => Some(PaymentOutcome::Confirmed { reference }),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "demo payment ledger: lookup failed");
                    Some(PaymentOutcome::Pending)
                }
            }
        })
    }
}
