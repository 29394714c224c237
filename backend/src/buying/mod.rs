//! Buying: the flash-sale gate that admits an order before the database sees it (one node:
//! `sale`, in memory; several: `sale::redis_gate`), placing and settling orders (`orders`), and
//! the payment providers (`payment`: the demo provider and WeChat Pay).

pub mod coupons;
pub mod orders;
pub mod payment;
pub mod sale;
