//! Calls into the small JavaScript modules in `public/` (player.js, broadcaster.js): WebRTC
//! publishing and HLS playback are browser APIs best driven from JS; the Wasm side decides
//! what to do and shows the result.

#[cfg(feature = "csr")]
mod imp {
    use wasm_bindgen::{closure::Closure, JsCast, JsValue};

    fn object(name: &str) -> Option<JsValue> {
        let window = web_sys::window()?;
        js_sys::Reflect::get(&window, &JsValue::from_str(name))
            .ok()
            .filter(|v| !v.is_undefined())
    }

    /// `window[obj][method](...args)`; `None` when the module is missing (old browser).
    pub fn call(obj: &str, method: &str, args: &[JsValue]) -> Option<JsValue> {
        let o = object(obj)?;
        let f: js_sys::Function = js_sys::Reflect::get(&o, &JsValue::from_str(method))
            .ok()?
            .dyn_into()
            .ok()?;
        let arr: js_sys::Array = args.iter().collect();
        f.apply(&o, &arr).ok()
    }

    /// Awaits a returned promise; `Err` carries the error's message.
    pub async fn call_async(obj: &str, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
        let v = call(obj, method, args).ok_or_else(|| "This browser can't do that.".to_string())?;
        let p: js_sys::Promise = v.dyn_into().map_err(|_| "unexpected reply".to_string())?;
        wasm_bindgen_futures::JsFuture::from(p).await.map_err(|e| {
            js_sys::Reflect::get(&e, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "Something went wrong.".to_string())
        })
    }

    /// A JS callback taking one string; kept alive as long as the returned value.
    pub fn string_callback(f: impl Fn(String) + 'static) -> Closure<dyn Fn(JsValue)> {
        Closure::new(move |v: JsValue| f(v.as_string().unwrap_or_default()))
    }

    pub fn get(v: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }
}

#[cfg(feature = "csr")]
pub use imp::*;
