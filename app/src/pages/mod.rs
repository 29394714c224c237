//! One module per route.

pub mod embed;
pub mod home;
pub mod invite;
pub mod live;
pub mod live_draw;
pub mod live_room;
pub mod not_found;
pub mod orders;
pub mod session;
pub mod studio;
