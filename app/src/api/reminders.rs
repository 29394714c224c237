//! Reminders (issue 31): a shopper chooses the channels reminders reach them on; a tap on a
//! reminder's "stop" ends them; the studio sees each channel's counts. Sending is the server's
//! (`shop_backend::reminders`).

use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{
    error::AppError,
    model::{ReminderChannelStats, ReminderChoice, SessionId},
};

/// The caller's reminder channels.
#[server(endpoint = "reminders/channels", input = GetUrl)]
pub async fn my_reminder_channels() -> Result<ReminderChoice, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    Ok(shop_backend::reminders::choice(&st.db, shopper.id).await?)
}

/// Chooses the caller's reminder channels (remembered for every session they reserve),
/// written in the language of this request. A channel the shopper cannot be reached on yet
/// (text messages without a verified number) is a 409.
#[server(endpoint = "reminders/choose")]
pub async fn choose_reminder_channels(
    web_push: bool,
    wechat: bool,
    sms: bool,
) -> Result<ReminderChoice, AppError> {
    use shop_backend::ratelimit::Action;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    st.limits
        .check(Action::Reserve, &shopper.id.to_string())
        .await?;
    let channels = shop_core::domain::reminder::Channels {
        web_push,
        wechat,
        sms,
    };
    Ok(shop_backend::reminders::choose(&st.db, shopper.id, channels, browser.locale()).await?)
}

/// The key browsers subscribe to Web Push with (`applicationServerKey`, base64url); `None`
/// where Web Push is off.
#[server(endpoint = "reminders/push_key", input = GetUrl)]
pub async fn push_key() -> Result<Option<String>, AppError> {
    let st = crate::api::state()?;
    Ok(shop_backend::reminders::push_key(&st))
}

/// Keeps this browser's push subscription (`PushSubscription.toJSON()`: the endpoint and its
/// keys) for the caller, who then gets reminders as notifications if they chose them.
#[server(endpoint = "reminders/push_subscribe")]
pub async fn push_subscribe(
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<ReminderChoice, AppError> {
    use shop_backend::ratelimit::Action;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    st.limits
        .check(Action::Reserve, &shopper.id.to_string())
        .await?;
    Ok(shop_backend::reminders::subscribe_push(&st, shopper.id, &endpoint, &p256dh, &auth).await?)
}

/// Forgets one of the caller's push subscriptions (the browser unsubscribed).
#[server(endpoint = "reminders/push_unsubscribe")]
pub async fn push_unsubscribe(endpoint: String) -> Result<ReminderChoice, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    Ok(shop_backend::reminders::unsubscribe_push(&st, shopper.id, &endpoint).await?)
}

/// One tap from a reminder's page: no more reminders for the shopper it was sent to. The
/// token is the reminder's link (`/r/{token}`), so it works in any browser.
#[server(endpoint = "reminders/stop")]
pub async fn stop_reminders(token: String) -> Result<(), AppError> {
    let st = crate::api::state()?;
    Ok(shop_backend::reminders::stop(&st, &token).await?)
}

/// The studio: each channel's reminders for the session.
#[server(endpoint = "studio/reminders", input = GetUrl)]
pub async fn studio_reminders(
    session_id: SessionId,
) -> Result<Vec<ReminderChannelStats>, AppError> {
    use shop_core::domain::team::Permission;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        Permission::ViewFigures,
    )
    .await?;
    Ok(shop_backend::reminders::stats(&st.db, session_id).await?)
}
