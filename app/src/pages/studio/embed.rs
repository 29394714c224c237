//! The studio's "Embed on your site": the sites allowed to show the host's live rooms in an
//! iframe (`/embed/{session}`, through `public/embed.js`), and the snippet to paste.

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::embed::{studio_add_embed_origin, studio_embed_origins, studio_remove_embed_origin},
    error::AppError,
    i18n::{t, tf, K},
};

#[component]
pub fn EmbedSettings() -> impl IntoView {
    let origins = RwSignal::new(Vec::<String>::new());
    let error = RwSignal::new(None::<String>);
    let draft = RwSignal::new(String::new());
    let apply = move |result: Result<Vec<String>, AppError>| match result {
        Ok(list) => {
            origins.set(list);
            error.set(None);
        }
        Err(e) => error.set(Some(e.to_string())),
    };
    spawn_local(async move { apply(studio_embed_origins().await) });
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let origin = draft.get_untracked();
        spawn_local(async move {
            let result = studio_add_embed_origin(origin).await;
            if result.is_ok() {
                draft.set(String::new());
            }
            apply(result);
        });
    };
    let remove = move |origin: String| {
        spawn_local(async move { apply(studio_remove_embed_origin(origin).await) });
    };
    let snippet = move || {
        let site = crate::components::browser::origin();
        format!(
            "<div id=\"live-room\"></div>\n<script src=\"{site}/public/embed.js\"></script>\n<script>\n  LiveShopping.mount(document.getElementById(\"live-room\"), {{\n    session: SESSION_ID,\n    locale: \"zh-CN\",\n    onAddToCart: function (product) {{ return {{ accepted: true }}; }},\n  }});\n</script>"
        )
    };
    view! {
        <section class="card" aria-labelledby="embed-title">
            <h2 id="embed-title">{t(K::studio_embed_title)}</h2>
            <p class="muted small">{t(K::studio_embed_hint)}</p>
            <ul class="embed-origins" aria-label=t(K::studio_embed_list)>
                {move || origins.get().is_empty().then(|| view! { <li class="muted">{t(K::studio_embed_none)}</li> })}
                <For each=move || origins.get() key=|o| o.clone() let:o>
                    <li>
                        <code>{o.clone()}</code>
                        <button type="button" class="btn btn-small" aria-label=tf(K::studio_embed_remove_origin, &[("origin", &o)])
                            on:click={let o = o.clone(); move |_| remove(o.clone())}>{t(K::studio_embed_remove)}</button>
                    </li>
                </For>
            </ul>
            <form class="row" on:submit=add>
                <label class="field"><span>{t(K::studio_embed_site)}</span>
                    <input type="url" name="origin" placeholder="https://shop.example.com" required=true
                        prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn btn-primary">{t(K::studio_embed_allow)}</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <details>
                <summary>{t(K::studio_embed_code)}</summary>
                <p class="muted small">{t(K::studio_embed_code_hint)}</p>
                <pre class="embed-snippet"><code>{snippet}</code></pre>
            </details>
        </section>
    }
}
