//! WeChat inside the browser: the JS-SDK's `wx.config` signature for a page of this site.

use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{error::AppError, model::JsSdkSignature};

/// `wx.config`'s parameters for the page at `url` (this site's own pages only; the fragment
/// is not signed). 404 where no official account is set up: the page then shares without
/// the SDK.
#[server(endpoint = "wechat/jssdk", input = GetUrl)]
pub async fn wechat_jssdk(url: String) -> Result<JsSdkSignature, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let Some(sdk) = st.wechat_jssdk.clone() else {
        return Err(AppError::not_found("WeChat's JS-SDK is not set up here."));
    };
    let page = url.split('#').next().unwrap_or("");
    let host = browser
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    if page.len() > 2048
        || !shop_backend::wechat::jssdk::is_page_of(page, &host, &st.settings.public_url)
    {
        return Err(AppError::bad_request("Only this site's pages are signed."));
    }
    Ok(sdk.sign(page, shop_backend::now_ms() / 1000).await?)
}
