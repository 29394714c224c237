//! Payment as a provider interface. The default provider confirms at once and is labelled
//! "demo payment" in the UI; a real provider (WeChat Pay, Alipay) implements the same trait.

use std::{future::Future, pin::Pin};

use crate::domain::money::Fen;

#[derive(Debug, Clone)]
pub struct Charge {
    pub order_id: i64,
    pub shopper_id: i64,
    pub amount: Fen,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Confirmed { reference: String },
    Declined { reason: String },
}

pub type PaymentFuture<'a> = Pin<Box<dyn Future<Output = PaymentOutcome> + Send + 'a>>;

pub trait PaymentProvider: Send + Sync {
    /// Stable name recorded on each order.
    fn name(&self) -> &'static str;
    /// Shown to shoppers next to the Pay button.
    fn label(&self) -> &'static str;
    fn charge<'a>(&'a self, charge: &'a Charge) -> PaymentFuture<'a>;
}

/// Confirms every charge immediately. For demos and tests only.
pub struct DemoPayment;

impl PaymentProvider for DemoPayment {
    fn name(&self) -> &'static str {
        "demo"
    }
    fn label(&self) -> &'static str {
        "Demo payment: no money is charged"
    }
    fn charge<'a>(&'a self, charge: &'a Charge) -> PaymentFuture<'a> {
        Box::pin(async move {
            PaymentOutcome::Confirmed {
                reference: format!("demo-{}", charge.order_id),
            }
        })
    }
}
