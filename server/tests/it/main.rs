//! The server's integration tests, in one binary (linking the whole server once instead of
//! once per file): a module per area. `memory.rs` and `crash.rs` keep binaries of their own,
//! because what they measure or kill is their own process.

#[macro_use]
mod common;

mod addresses;
mod chat_rules;
mod cluster;
mod coupons;
mod draws;
mod embed;
mod first_paint;
mod flash_sale;
mod foundation;
mod hardening;
mod i18n;
mod live_room;
mod moderation;
mod phone;
mod process;
mod refunds;
mod rehearsal;
mod reminders;
mod restream;
mod schema;
mod shopper_flow;
mod studio;
mod team;
mod time_zones;
mod variants;
mod video;
mod webrtc_playback;
mod wechat_checkout;
mod wechat_jssdk;
mod wechat_pay;
mod whip_publisher_selftest;
