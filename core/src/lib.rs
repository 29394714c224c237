//! What the browser client and the server share: the domain rules (pure functions and types,
//! no I/O), the model that travels between them, the one error type, and the UI texts.
//!
//! Features: `csr` for the browser (the page fetches its catalogue), `ssr` for the server
//! (every catalogue built in; the error type answers HTTP), `server-fn` where Leptos server
//! functions carry the error type (the app; the backend crate does without).

pub mod domain;
pub mod error;
pub mod i18n;
pub mod ids;
pub mod model;
pub mod money;
