//! WeChat's JS-SDK, inside WeChat only: loaded from this site (`/public/vendor/jweixin.js`,
//! the pinned npm package `weixin-js-sdk` wrapped by `scripts/build.sh`, never WeChat's CDN)
//! and configured with the server's signature of the page URL (`GET /api/wechat/jssdk`; 404
//! where no official account is set up: then nothing here runs). With it a shopper shares
//! their invite as a card (`updateAppMessageShareData`, `updateTimelineShareData`) and fills
//! a delivery address from WeChat's (`openAddress`).
//!
//! The URL signed is the one WeChat checks: on iOS the page the shopper landed on, elsewhere
//! the current one (a single-page app changes it), so the SDK is configured again when it moved.

use leptos::prelude::*;

use crate::domain::address::AddressForm;

/// Whether the SDK is configured for this page (a signal: buttons that need it appear then).
#[derive(Clone, Copy)]
pub struct WechatSdk {
    pub ready: RwSignal<bool>,
    /// The URL the configuration signed, and the one the shopper landed on.
    signed: StoredValue<Option<String>>,
    landing: StoredValue<String>,
    /// Whether the server signs at all (asked once; it answers 404 otherwise).
    offered: StoredValue<Option<bool>>,
}

impl WechatSdk {
    /// Provides the SDK's state to the whole app and, inside WeChat, configures it.
    pub fn provide() -> WechatSdk {
        let sdk = WechatSdk {
            ready: RwSignal::new(false),
            signed: StoredValue::new(None),
            landing: StoredValue::new(page_url()),
            offered: StoredValue::new(None),
        };
        provide_context(sdk);
        if crate::components::browser::in_wechat() {
            // Configuring WeChat's JS bridge (a signature read, then `wx.config`): a task.
            leptos::task::spawn_local(async move {
                sdk.ensure().await;
            });
        }
        sdk
    }

    /// Configures the SDK for the URL WeChat will check, unless it already is.
    pub async fn ensure(&self) -> bool {
        if !crate::components::browser::in_wechat() {
            return false;
        }
        let url = if is_ios() {
            self.landing.get_value()
        } else {
            page_url()
        };
        if self.ready.get_untracked() && self.signed.get_value().as_deref() == Some(url.as_str()) {
            return true;
        }
        let offered = match self.offered.get_value() {
            Some(known) => known,
            None => {
                let Ok(me) = crate::api::shopper::whoami().await else {
                    return false;
                };
                self.offered.set_value(Some(me.wechat_jssdk));
                me.wechat_jssdk
            }
        };
        if !offered {
            return false;
        }
        if !js::load_sdk().await {
            return false;
        }
        let Ok(sig) = crate::api::wechat::wechat_jssdk(url.clone()).await else {
            return false;
        };
        let ok = js::configure(&sig).await;
        self.signed.set_value(ok.then_some(url));
        self.ready.try_set(ok);
        ok
    }

    /// Shares `link` as a card in chats and Moments.
    pub fn share(&self, title: String, desc: String, link: String, image: String) {
        let sdk = *self;
        // WeChat's JS bridge, once configured: a task.
        leptos::task::spawn_local(async move {
            if sdk.ensure().await {
                js::share(&title, &desc, &link, &image);
            }
        });
    }

    /// WeChat's own address picker, as our form (checked when saved); `None` when cancelled
    /// or unavailable.
    pub async fn open_address(&self) -> Option<AddressForm> {
        if !self.ensure().await {
            return None;
        }
        js::open_address().await
    }
}

/// The SDK's state, when the app provided it.
pub fn sdk() -> Option<WechatSdk> {
    use_context::<WechatSdk>()
}

fn page_url() -> String {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .and_then(|w| w.location().href().ok())
            .map(|h| h.split('#').next().unwrap_or("").to_string())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "csr"))]
    {
        String::new()
    }
}

fn is_ios() -> bool {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .and_then(|w| w.navigator().user_agent().ok())
            .is_some_and(|ua| ua.contains("iPhone") || ua.contains("iPad"))
    }
    #[cfg(not(feature = "csr"))]
    {
        false
    }
}

#[cfg(feature = "csr")]
mod js {
    use js_sys::{Function, Object, Promise, Reflect};
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};

    use crate::{domain::address::AddressForm, model::JsSdkSignature};

    const SDK_URL: &str = "/public/vendor/jweixin.js";

    fn wx() -> Option<JsValue> {
        let w = web_sys::window()?;
        Reflect::get(&w, &JsValue::from_str("wx"))
            .ok()
            .filter(|v| v.is_object())
    }

    fn method(obj: &JsValue, name: &str) -> Option<Function> {
        Reflect::get(obj, &JsValue::from_str(name))
            .ok()?
            .dyn_into::<Function>()
            .ok()
    }

    fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
        let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
    }

    /// Adds the SDK's script once and waits for it.
    pub async fn load_sdk() -> bool {
        if wx().is_some() {
            return true;
        }
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return false;
        };
        let Ok(script) = doc.create_element("script") else {
            return false;
        };
        let _ = script.set_attribute("src", SDK_URL);
        let loaded = Promise::new(&mut |resolve, _| {
            let done = Closure::once_into_js(move |_: JsValue| {
                let _ = resolve.call0(&JsValue::NULL);
            });
            let _ = script.add_event_listener_with_callback("load", done.unchecked_ref());
            let _ = script.add_event_listener_with_callback("error", done.unchecked_ref());
        });
        let Some(head) = doc.head() else { return false };
        if head.append_child(&script).is_err() {
            return false;
        }
        let _ = wasm_bindgen_futures::JsFuture::from(loaded).await;
        wx().is_some()
    }

    /// `wx.config` with the server's signature; true once `wx.ready` fired (false on `wx.error`).
    pub async fn configure(sig: &JsSdkSignature) -> bool {
        let Some(wx) = wx() else { return false };
        let (Some(config), Some(ready), Some(error)) = (
            method(&wx, "config"),
            method(&wx, "ready"),
            method(&wx, "error"),
        ) else {
            return false;
        };
        let cfg = Object::new();
        set(&cfg, "debug", false);
        set(&cfg, "appId", sig.app_id.as_str());
        set(&cfg, "timestamp", sig.timestamp as f64);
        set(&cfg, "nonceStr", sig.nonce_str.as_str());
        set(&cfg, "signature", sig.signature.as_str());
        let apis = js_sys::Array::new();
        for api in [
            "updateAppMessageShareData",
            "updateTimelineShareData",
            "openAddress",
        ] {
            apis.push(&JsValue::from_str(api));
        }
        set(&cfg, "jsApiList", apis);
        let outcome = Promise::new(&mut |resolve, _| {
            let yes = resolve.clone();
            let on_ready = Closure::once_into_js(move || {
                let _ = yes.call1(&JsValue::NULL, &JsValue::TRUE);
            });
            let on_error = Closure::once_into_js(move |_: JsValue| {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::FALSE);
            });
            let _ = ready.call1(&wx, &on_ready);
            let _ = error.call1(&wx, &on_error);
        });
        if config.call1(&wx, &cfg).is_err() {
            return false;
        }
        wasm_bindgen_futures::JsFuture::from(outcome)
            .await
            .is_ok_and(|v| v.is_truthy())
    }

    pub fn share(title: &str, desc: &str, link: &str, image: &str) {
        let Some(wx) = wx() else { return };
        for (name, with_desc) in [
            ("updateAppMessageShareData", true),
            ("updateTimelineShareData", false),
        ] {
            let data = Object::new();
            set(&data, "title", title);
            if with_desc {
                set(&data, "desc", desc);
            }
            set(&data, "link", link);
            set(&data, "imgUrl", image);
            if let Some(f) = method(&wx, name) {
                let _ = f.call1(&wx, &data);
            }
        }
    }

    pub async fn open_address() -> Option<AddressForm> {
        let wx = wx()?;
        let open = method(&wx, "openAddress")?;
        let picked = Promise::new(&mut |resolve, _| {
            let yes = resolve.clone();
            let success = Closure::once_into_js(move |res: JsValue| {
                let _ = yes.call1(&JsValue::NULL, &res);
            });
            let no = resolve.clone();
            let other = Closure::once_into_js(move |_: JsValue| {
                let _ = no.call1(&JsValue::NULL, &JsValue::NULL);
            });
            let args = Object::new();
            set(&args, "success", success);
            set(&args, "cancel", other.clone());
            set(&args, "fail", other);
            if open.call1(&wx, &args).is_err() {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::NULL);
            }
        });
        let res = wasm_bindgen_futures::JsFuture::from(picked).await.ok()?;
        if !res.is_object() {
            return None;
        }
        let text = |k: &str| {
            Reflect::get(&res, &JsValue::from_str(k))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        Some(AddressForm {
            recipient: text("userName"),
            phone: text("telNumber"),
            province: text("provinceName"),
            city: text("cityName"),
            district: text("countryName"),
            street: text("detailInfo"),
        })
    }
}

#[cfg(not(feature = "csr"))]
mod js {
    use crate::{domain::address::AddressForm, model::JsSdkSignature};

    pub async fn load_sdk() -> bool {
        false
    }
    pub async fn configure(_: &JsSdkSignature) -> bool {
        false
    }
    pub fn share(_: &str, _: &str, _: &str, _: &str) {}
    pub async fn open_address() -> Option<AddressForm> {
        None
    }
}
