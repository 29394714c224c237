//! The repository layer: every SQL statement the application runs lives under here, grouped
//! by domain. Functions take `&Db` and return domain/model types.

pub mod addresses;
pub mod catalog;
pub mod chat_rules;
pub mod coupons;
pub mod draws;
pub mod embed;
pub mod hosts;
pub mod live;
pub mod orders;
pub mod payments;
pub mod phones;
pub mod reminders;
pub mod restream;
pub mod shoppers;
pub mod shopping;
pub mod studio;
pub mod team;
pub mod variants;
pub mod video;
