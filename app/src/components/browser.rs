//! The few browser APIs the app uses, behind plain Rust functions. In the Wasm client they call
//! the browser; compiled for the server (which never renders) they are inert.

/// Milliseconds since the epoch on this device's clock.
pub fn now_ms() -> i64 {
    #[cfg(feature = "csr")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "csr"))]
    {
        0
    }
}

/// A fresh idempotency key for one purchase attempt (retries reuse it).
pub fn new_idempotency_key() -> String {
    #[cfg(feature = "csr")]
    {
        let mut bytes = [0u8; 12];
        let filled = web_sys::window()
            .and_then(|w| w.crypto().ok())
            .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
            .is_some();
        if !filled {
            for b in &mut bytes {
                *b = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("ord-{hex}")
    }
    #[cfg(not(feature = "csr"))]
    {
        "ord-server-side-key".to_string()
    }
}

/// How a link was shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// The system share sheet (Web Share API) was used.
    ShareSheet,
    /// Copied to the clipboard.
    Copied,
    /// Neither is available: the person has to copy it by hand.
    Manual,
}

/// Opens the share sheet where the browser has one (feature-detected), else copies the URL.
pub async fn share_or_copy(title: &str, text: &str, url: &str) -> Shared {
    #[cfg(feature = "csr")]
    {
        use wasm_bindgen::{JsCast, JsValue};
        let Some(window) = web_sys::window() else {
            return Shared::Manual;
        };
        let navigator = window.navigator();
        let share = js_sys::Reflect::get(&navigator, &JsValue::from_str("share")).ok();
        if let Some(f) = share.and_then(|s| s.dyn_into::<js_sys::Function>().ok()) {
            let data = js_sys::Object::new();
            for (k, v) in [("title", title), ("text", text), ("url", url)] {
                let _ = js_sys::Reflect::set(&data, &JsValue::from_str(k), &JsValue::from_str(v));
            }
            if let Ok(promise) = f.call1(&navigator, &data) {
                if let Ok(p) = promise.dyn_into::<js_sys::Promise>() {
                    // A cancelled share sheet rejects: fall through to copying.
                    if wasm_bindgen_futures::JsFuture::from(p).await.is_ok() {
                        return Shared::ShareSheet;
                    }
                }
            }
        }
        copy_text(url).await
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = (title, text, url);
        Shared::Manual
    }
}

/// Copies text to the clipboard when the browser allows it.
pub async fn copy_text(text: &str) -> Shared {
    #[cfg(feature = "csr")]
    {
        let Some(window) = web_sys::window() else {
            return Shared::Manual;
        };
        let clipboard = window.navigator().clipboard();
        let has_clipboard = !wasm_bindgen::JsValue::from(clipboard.clone()).is_undefined();
        if has_clipboard
            && wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
                .await
                .is_ok()
        {
            return Shared::Copied;
        }
        Shared::Manual
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = text;
        Shared::Manual
    }
}

/// Asks the person to confirm a destructive action (the browser's own dialog).
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = message;
        false
    }
}

/// A random whole number of milliseconds below `max` (spreads refetches after a broadcast
/// event so 50,000 viewers do not all ask the server in the same instant).
pub fn jitter_ms(max: u64) -> u64 {
    #[cfg(feature = "csr")]
    {
        (js_sys::Math::random() * max as f64) as u64
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = max;
        0
    }
}

/// Waits `ms` milliseconds (the browser's timer).
pub async fn sleep_ms(ms: u64) {
    #[cfg(feature = "csr")]
    {
        let delay = i32::try_from(ms).unwrap_or(i32::MAX);
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, delay);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = ms;
    }
}

/// This page's origin (`https://live.example.com`); empty outside a browser.
pub fn origin() -> String {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "csr"))]
    {
        String::new()
    }
}

/// True inside WeChat's built-in browser (where `WeixinJSBridge` pays).
pub fn in_wechat() -> bool {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .and_then(|w| w.navigator().user_agent().ok())
            .is_some_and(|ua| ua.to_ascii_lowercase().contains("micromessenger"))
    }
    #[cfg(not(feature = "csr"))]
    {
        false
    }
}

/// Asks WeChat to pay with the server's JSAPI parameters
/// (`WeixinJSBridge.invoke('getBrandWCPayRequest', params, done)`); resolves to true when
/// WeChat says the shopper paid, false when they cancelled, it failed or there is no bridge.
/// The server still waits for WeChat Pay's own notification before the order counts as paid.
pub async fn wechat_jsapi_pay(params: &serde_json::Value) -> bool {
    #[cfg(feature = "csr")]
    {
        use wasm_bindgen::{JsCast, JsValue};
        let Some(window) = web_sys::window() else {
            return false;
        };
        let bridge = js_sys::Reflect::get(&window, &JsValue::from_str("WeixinJSBridge"))
            .unwrap_or(JsValue::UNDEFINED);
        let invoke = js_sys::Reflect::get(&bridge, &JsValue::from_str("invoke"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let (Some(invoke), Ok(params)) = (invoke, js_sys::JSON::parse(&params.to_string())) else {
            return false;
        };
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let answer = resolve.clone();
            let done = wasm_bindgen::closure::Closure::once_into_js(move |res: JsValue| {
                let _ = answer.call1(&JsValue::NULL, &res);
            });
            let asked = invoke.call3(
                &bridge,
                &JsValue::from_str("getBrandWCPayRequest"),
                &params,
                &done,
            );
            if asked.is_err() {
                // No answer will come: "not paid" now.
                let _ = resolve.call1(&JsValue::NULL, &JsValue::UNDEFINED);
            }
        });
        let Ok(res) = wasm_bindgen_futures::JsFuture::from(promise).await else {
            return false;
        };
        js_sys::Reflect::get(&res, &JsValue::from_str("err_msg"))
            .ok()
            .and_then(|v| v.as_string())
            .is_some_and(|m| m == "get_brand_wcpay_request:ok")
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = params;
        false
    }
}

/// This page's path and query (`/s/12?x=1`; empty outside the browser).
pub fn path_and_query() -> String {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .map(|w| {
                let l = w.location();
                format!(
                    "{}{}",
                    l.pathname().unwrap_or_default(),
                    l.search().unwrap_or_default()
                )
            })
            .unwrap_or_default()
    }
    #[cfg(not(feature = "csr"))]
    {
        String::new()
    }
}

/// Leaves for `url` without a history entry for this page.
/// Shows `path` (same origin) in the address bar without navigating (what WeChat's own ···
/// menu shares is the address shown).
pub fn show_address(path: &str) {
    #[cfg(feature = "csr")]
    {
        if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
        }
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = path;
    }
}

pub fn replace_location(url: &str) {
    #[cfg(feature = "csr")]
    {
        if let Some(w) = web_sys::window() {
            let _ = w.location().replace(url);
        }
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = url;
    }
}
