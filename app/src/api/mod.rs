//! Server functions, grouped by domain. Each is thin: it checks who is calling, then calls the
//! repository/domain code under `crate::backend` (compiled only with the `ssr` feature).
//!
//! Every function has an explicit `endpoint`, so the URL is `/api/<endpoint>` no matter which
//! directory the client and server were built from (Leptos' default URL hashes the manifest
//! path, which differs between the Trunk build and the server build on some machines).

pub mod addresses;
pub mod catalog;
pub mod embed;
#[cfg(feature = "ssr")]
pub mod endpoints;
pub mod invites;
pub mod live;
pub mod orders;
pub mod phone;
pub mod restream;
pub mod shopper;
pub mod studio;
pub mod video;
pub mod wechat;
