//! WeChat: signing shoppers in through the official account (`auth`) and the JS-SDK
//! signature its webview asks for (`jssdk`). WeChat Pay is a payment provider
//! (`buying::payment::wechat_pay`).

pub mod auth;
pub mod jssdk;
