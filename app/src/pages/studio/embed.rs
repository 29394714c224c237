//! The studio's "Embed on your site": the sites allowed to show the host's live rooms in an
//! iframe (`/embed/{session}`, through `public/embed.js`), and the snippet to paste.

use leptos::{html, prelude::*};

use crate::{
    api::embed::{studio_embed_origins, StudioAddEmbedOrigin, StudioRemoveEmbedOrigin},
    components::on_outcome,
    i18n::{t, tf, K},
};

#[component]
pub fn EmbedSettings() -> impl IntoView {
    // The form's one field is the server function's argument (the origin).
    let add = ServerAction::<StudioAddEmbedOrigin>::new();
    let remove = ServerAction::<StudioRemoveEmbedOrigin>::new();
    let origins = LocalResource::new(move || {
        add.version().track();
        remove.version().track();
        studio_embed_origins()
    });
    // The last error, from loading the list or from a change; a change that works clears it.
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Err(e)) = origins.get() {
            error.set(Some(e.to_string()));
        }
    });
    let form = NodeRef::<html::Form>::new();
    on_outcome(add, move |res| match res {
        Ok(_) => {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
            error.set(None);
        }
        Err(e) => error.set(Some(e.to_string())),
    });
    on_outcome(remove, move |res| {
        error.set(res.err().map(|e| e.to_string()));
    });
    let listed = move || {
        origins.with(|o| match o {
            Some(Ok(list)) => list.clone(),
            _ => Vec::new(),
        })
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
                {move || listed().is_empty().then(|| view! { <li class="muted">{t(K::studio_embed_none)}</li> })}
                <For each=listed key=|o| o.clone() let:o>
                    <li>
                        <code>{o.clone()}</code>
                        <button type="button" class="btn btn-small" aria-label=tf(K::studio_embed_remove_origin, &[("origin", &o)])
                            on:click={let o = o.clone(); move |_| { remove.dispatch(StudioRemoveEmbedOrigin { origin: o.clone() }); }}>{t(K::studio_embed_remove)}</button>
                    </li>
                </For>
            </ul>
            <ActionForm action=add node_ref=form attr:class="row">
                <label class="field"><span>{t(K::studio_embed_site)}</span>
                    <input type="url" name="origin" placeholder="https://shop.example.com" required=true/>
                </label>
                <button type="submit" class="btn btn-primary">{t(K::studio_embed_allow)}</button>
            </ActionForm>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <details>
                <summary>{t(K::studio_embed_code)}</summary>
                <p class="muted small">{t(K::studio_embed_code_hint)}</p>
                <pre class="embed-snippet"><code>{snippet}</code></pre>
            </details>
        </section>
    }
}
