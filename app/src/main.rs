//! Browser entry point (feature `csr`): chooses the page's language and fetches its texts
//! (`i18n`), then mounts the app into `#app`, replacing the boot notice.

use app::App;
use wasm_bindgen::JsCast;

fn main() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        app::i18n::load(app::i18n::choose()).await;
        let document = leptos::prelude::document();
        if let Some(boot) = document.get_element_by_id("boot") {
            boot.remove();
        }
        let root = document
            .get_element_by_id("app")
            .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
            .unwrap_or_else(|| document.body().expect("document has a body"));
        leptos::mount::mount_to(root, App).forget();
    });
}
