//! `/s/{id}`: a session's page (cover, title, host, start time, products with prices).

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    api::catalog::get_session,
    components::{status::StatusBadge, time::LocalTime, ErrorNotice, Loading},
    error::AppError,
    model::{ProductView, SessionDetail},
    pages::not_found::NotFound,
};

#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    // An id that is not a number cannot exist: treat it like an unknown id.
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let session = LocalResource::new(move || {
        let id = id();
        async move {
            match id {
                Some(id) => get_session(id).await,
                None => Err(AppError::not_found("This live session does not exist.")),
            }
        }
    });
    let retry = Callback::new(move |_| session.refetch());
    view! {
        <Suspense fallback=|| view! { <Loading label="Loading session…"/> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(s) => view! { <SessionView session=s/> }.into_any(),
                    Err(e) if e.is_not_found() => view! { <NotFound message=e.to_string()/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e on_retry=retry/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SessionView(session: SessionDetail) -> impl IntoView {
    let count = session.products.len();
    view! {
        <article class="session" aria-labelledby="session-title">
            <header class="top-bar">
                <a href="/" class="back" aria-label="Back to all sessions">"‹"</a>
                <span class="top-bar-title">"Live session"</span>
            </header>
            <img class="session-cover" src=session.cover_url alt="" width="800" height="450"/>
            <div class="session-head">
                <StatusBadge status=session.status/>
                <h1 id="session-title">{session.title}</h1>
                <p class="session-host">"Host: " <strong>{session.host_name}</strong></p>
                <p class="session-start">"Starts " <LocalTime ms=session.scheduled_start_ms/></p>
                {(!session.description.is_empty()).then(|| view! { <p class="session-desc">{session.description}</p> })}
            </div>
            <section class="products" aria-labelledby="products-title">
                <h2 id="products-title">{format!("Products ({count})")}</h2>
                <ul class="product-list">
                    {session.products.into_iter().map(|p| view! { <ProductRow product=p/> }).collect_view()}
                </ul>
            </section>
        </article>
    }
}

#[component]
fn ProductRow(product: ProductView) -> impl IntoView {
    let stock = if product.stock == 0 {
        "Sold out".to_string()
    } else {
        format!("{} left", product.stock)
    };
    view! {
        <li class="product" data-product-id=product.id>
            <img class="product-img" src=product.image_url alt="" loading="lazy" width="96" height="96"/>
            <div class="product-body">
                <span class="product-cat">{product.category}</span>
                <h3 class="product-name">{product.name}</h3>
                <p class="product-desc">{product.description}</p>
                <p class="product-foot">
                    <span class="price">{product.price.to_string()}</span>
                    <span class="stock">{stock}</span>
                </p>
            </div>
        </li>
    }
}
