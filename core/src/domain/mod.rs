//! Pure domain rules: no I/O, no framework types. Unit- and property-tested; the server calls
//! them with facts loaded from the database, the client only for display.

pub mod address;
pub mod chat_rules;
pub mod coupon;
pub mod discount;
pub mod draw;
pub mod embed;
pub mod forms;
pub mod net;
pub mod order;
pub mod phone;
pub mod reminder;
pub mod restream;
pub mod session;
pub mod shipping;
pub mod team;
pub mod text;
pub mod time;
pub mod variant;

// Money is below the rules (the error type names amounts too): `crate::money`, named here.
pub use crate::money;
