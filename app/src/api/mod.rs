//! Server functions, grouped by domain. Each is thin: it checks who is calling, then calls the
//! services of the `shop-backend` crate (compiled only with the `ssr` feature), passing what it
//! read from the request explicitly (`edge`: the state and the browser).
//!
//! Every function has an explicit `endpoint`, so the URL is `/api/<endpoint>` no matter which
//! directory the client and server were built from (Leptos' default URL hashes the manifest
//! path, which differs between the Trunk build and the server build on some machines).

pub mod addresses;
pub mod catalog;
pub mod coupons;
pub mod draws;
pub mod embed;
#[cfg(feature = "ssr")]
pub mod endpoints;
pub mod invites;
pub mod live;
pub mod moderation;
pub mod orders;
pub mod phone;
pub mod reminders;
pub mod restream;
pub mod shopper;
pub mod studio;
pub mod team;
pub mod video;
pub mod wechat;

/// The edge between Leptos and the backend: what a server function reads from its Leptos
/// context, turned into the backend's explicit inputs. Nothing past this point reads context.
#[cfg(feature = "ssr")]
mod edge {
    use axum::http::{header, request::Parts};
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;
    use shop_backend::{request::Browser, AppState};

    use crate::error::AppError;

    /// The app state (the server provides it to every server function).
    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from server function context");
            AppError::Internal
        })
    }

    /// The browser behind the current call; the cookies a service sets for it are added to
    /// the call's response.
    pub fn browser() -> Browser {
        let response = use_context::<ResponseOptions>();
        let cookie_out = move |v| {
            if let Some(r) = &response {
                r.append_header(header::SET_COOKIE, v);
            }
        };
        match use_context::<Parts>() {
            Some(parts) => Browser::from_parts(parts, cookie_out),
            None => Browser::new(Default::default(), "unknown".into(), cookie_out),
        }
    }
}

#[cfg(feature = "ssr")]
pub(crate) use edge::{browser, state};
