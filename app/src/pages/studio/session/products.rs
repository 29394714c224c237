//! The product list: add, edit (stock edits apply a difference), images, reorder, and during
//! the session present and sold out; stock shown live.

use crate::model::{ProductId, SessionId};
use std::collections::HashMap;

use leptos::prelude::*;

use super::{studio_action, studio_action_then, upload::ImageUpload, Edits, StatusLine};
use crate::{
    api::studio::{
        mark_sold_out, present_product, studio_add_product, studio_delete_product,
        studio_move_product, studio_set_variants, studio_update_product,
    },
    components::browser::confirm,
    error::AppError,
    i18n::{t, tf, K},
    model::{ProductForm, SessionStatus, StudioProduct, StudioSession, VariantForm, VariantView},
};

/// The product list. Rows are keyed by everything they show, so a reload rebuilds only the
/// rows that changed (an open edit panel elsewhere stays open, focus stays put).
#[component]
pub(super) fn ProductsEditor(
    session: LocalResource<Result<StudioSession, AppError>>,
    stock: RwSignal<HashMap<ProductId, i64>>,
    edits: Edits,
    msg: StatusLine,
) -> impl IntoView {
    let current = move || {
        session.with(|s| {
            s.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|s| (s.id, s.status, s.products.clone(), s.current_product_id))
        })
    };
    let count = move || current().map_or(0, |c| c.2.len());
    let rows = move || {
        current()
            .map(|(_, status, products, now)| {
                let n = products.len();
                products
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| (p, status, i == 0, i + 1 == n, now))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let key = |(p, status, first, last, now): &(
        StudioProduct,
        SessionStatus,
        bool,
        bool,
        Option<ProductId>,
    )| {
        // Not the stock: it changes with every sale and the row shows it live.
        // Variants by id, name and price: saved new ones get their ids (a rebuilt row).
        let variants: Vec<(i64, &str, Option<i64>)> = p
            .variants
            .iter()
            .map(|v| (v.id, v.name.as_str(), v.price.map(|f| f.0)))
            .collect();
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{:?}|{}|{variants:?}",
            p.id,
            p.position,
            p.name,
            p.category,
            p.description,
            p.price.0,
            p.image_url,
            p.presented,
            status.as_str(),
            first,
            last,
            *now == Some(p.id)
        )
    };
    view! {
        <section class="card" aria-labelledby="products-title">
            <h2 id="products-title">{move || tf(K::studio_products_title, &[("n", &count().to_string())])}</h2>
            <ol class="studio-products">
                <For each=rows key=key let:row>
                    <ProductEditorRow product=row.0 status=row.1 first=row.2 last=row.3
                        current=row.4 stock=stock edits=edits msg=msg/>
                </For>
            </ol>
            {move || current().filter(|c| c.1 != SessionStatus::Ended).map(|c| view! { <AddProduct session_id=c.0 edits=edits msg=msg/> })}
        </section>
    }
}

fn product_form(p: Option<&StudioProduct>) -> ProductForm {
    ProductForm {
        name: p.map(|p| p.name.clone()).unwrap_or_default(),
        description: p.map(|p| p.description.clone()).unwrap_or_default(),
        category: p.map(|p| p.category.clone()).unwrap_or_default(),
        price: p.map(|p| p.price.to_yuan_string()).unwrap_or_default(),
        stock: p.map(|p| p.stock).unwrap_or(100),
        reason: None,
        stock_was: p.map(|p| p.stock),
    }
}

#[component]
fn ProductFields(form: RwSignal<ProductForm>, #[prop(optional)] ask_reason: bool) -> impl IntoView {
    view! {
        <label class="field"><span>{t(K::studio_products_name)}</span>
            <input type="text" name="name" required maxlength="80" prop:value=move || form.with(|f| f.name.clone())
                on:input=move |ev| form.update(|f| f.name = event_target_value(&ev))/>
        </label>
        <label class="field"><span>{t(K::studio_products_category)}</span>
            <input type="text" name="category" required maxlength="40" list="categories" prop:value=move || form.with(|f| f.category.clone())
                on:input=move |ev| form.update(|f| f.category = event_target_value(&ev))/>
        </label>
        <datalist id="categories">
            <option value=t(K::studio_products_cat_cosmetics)/><option value=t(K::studio_products_cat_skincare)/>
            <option value=t(K::studio_products_cat_baby)/><option value=t(K::studio_products_cat_health)/>
        </datalist>
        <label class="field"><span>{t(K::studio_products_description)}</span>
            <textarea name="description" rows="2" maxlength="1000" prop:value=move || form.with(|f| f.description.clone())
                on:input=move |ev| form.update(|f| f.description = event_target_value(&ev))></textarea>
        </label>
        <div class="row">
            <label class="field"><span>{t(K::studio_products_price)}</span>
                <input type="text" name="price" inputmode="decimal" required placeholder="129.00" prop:value=move || form.with(|f| f.price.clone())
                    on:input=move |ev| form.update(|f| f.price = event_target_value(&ev))/>
            </label>
            <label class="field"><span>{t(K::studio_products_stock)}</span>
                <input type="number" name="stock" min="0" required prop:value=move || form.with(|f| f.stock.to_string())
                    on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { form.update(|f| f.stock = v) } }/>
            </label>
        </div>
        {ask_reason.then(|| view! {
            <label class="field"><span>{t(K::studio_products_reason)}</span>
                <input type="text" name="reason" maxlength="200" prop:value=move || form.with(|f| f.reason.clone().unwrap_or_default())
                    on:input=move |ev| form.update(|f| f.reason = Some(event_target_value(&ev)))/>
            </label>
        })}
    }
}

#[component]
fn AddProduct(session_id: SessionId, edits: Edits, msg: StatusLine) -> impl IntoView {
    let form = RwSignal::new(product_form(None));
    let open = RwSignal::new(false);
    let add = studio_action_then(
        msg,
        edits,
        K::studio_products_added,
        move |f| studio_add_product(session_id, f),
        move || {
            form.set(product_form(None));
            open.set(false);
        },
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(form.get_untracked());
    };
    view! {
        <button type="button" class="btn" on:click=move |_| open.update(|o| *o = !*o) aria-expanded=move || open.get().to_string()>{t(K::studio_products_add)}</button>
        <Show when=move || open.get()>
            <form class="stack add-product" on:submit=submit aria-label=t(K::studio_products_new)>
                <ProductFields form=form/>
                <button type="submit" class="btn btn-primary">{t(K::studio_products_save)}</button>
            </form>
        </Show>
    }
}

#[component]
fn ProductEditorRow(
    product: StudioProduct,
    status: SessionStatus,
    first: bool,
    last: bool,
    current: Option<ProductId>,
    stock: RwSignal<HashMap<ProductId, i64>>,
    edits: Edits,
    msg: StatusLine,
) -> impl IntoView {
    let pid = product.id;
    let listed_stock = product.stock;
    let stock_now = move || stock.with(|m| m.get(&pid).copied()).unwrap_or(listed_stock);
    let editing = RwSignal::new(false);
    let form = RwSignal::new(product_form(Some(&product)));
    let presented = product.presented;
    let name = product.name.clone();
    let present = studio_action(msg, edits, K::studio_products_presenting, present_product);
    let sold_out = studio_action(msg, edits, K::studio_products_sold_out_done, mark_sold_out);
    let moved = studio_action(msg, edits, K::studio_products_moved, |(id, delta)| {
        studio_move_product(id, delta)
    });
    let delete = studio_action(
        msg,
        edits,
        K::studio_products_deleted,
        studio_delete_product,
    );
    let update = studio_action_then(
        msg,
        edits,
        K::studio_products_saved,
        move |f| studio_update_product(pid, f),
        move || editing.set(false),
    );
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        update.dispatch(form.get_untracked());
    };
    let is_current = current == Some(pid);
    view! {
        <li class="studio-product" class:current=is_current data-product-id=pid.get()>
            <img src=product.image_url.clone() alt="" width="64" height="64"/>
            <div class="studio-product-body">
                <strong>{product.name.clone()}</strong>
                <span class="muted small">{tf(K::studio_products_meta, &[("category", &product.category), ("price", &product.price.to_string())])}<span class="live-stock">{stock_now}</span></span>
                <span>
                    {is_current.then(|| view! { <span class="badge badge-live">{t(K::studio_products_explaining)}</span> })}
                    {presented.then(|| view! { <span class="badge badge-presented">{t(K::studio_products_presented)}</span> })}
                </span>
            </div>
            <div class="studio-product-actions">
                {(status == SessionStatus::Live).then(|| view! {
                    <button type="button" class="btn btn-small btn-primary" aria-label=tf(K::studio_products_present_name, &[("name", &name)])
                        on:click=move |_| { present.dispatch(pid); }>{t(K::studio_products_present)}</button>
                    <button type="button" class="btn btn-small" aria-label=tf(K::studio_products_sold_out_name, &[("name", &name)])
                        on:click=move |_| { sold_out.dispatch(pid); }>{t(K::studio_products_sold_out)}</button>
                })}
                <button type="button" class="btn btn-small" aria-label=tf(K::studio_products_move_up, &[("name", &product.name)]) disabled=first
                    on:click=move |_| { moved.dispatch((pid, -1)); }>"↑"</button>
                <button type="button" class="btn btn-small" aria-label=tf(K::studio_products_move_down, &[("name", &product.name)]) disabled=last
                    on:click=move |_| { moved.dispatch((pid, 1)); }>"↓"</button>
                {(status != SessionStatus::Ended).then(|| view! {
                    <button type="button" class="btn btn-small" aria-label=tf(K::studio_products_edit_name, &[("name", &product.name)])
                        on:click=move |_| {
                            if !editing.get_untracked() {
                                // Edit from the stock as it is now; saving applies the difference.
                                let now = stock_now();
                                form.update(|f| { f.stock = now; f.stock_was = Some(now); });
                            }
                            editing.update(|e| *e = !*e)
                        }>{t(K::studio_products_edit)}</button>
                })}
                {(status == SessionStatus::Scheduled).then(|| view! {
                    <button type="button" class="btn btn-small btn-danger" aria-label=tf(K::studio_products_delete_name, &[("name", &product.name)])
                        on:click=move |_| { if confirm(&t(K::studio_products_delete_confirm)) { delete.dispatch(pid); } }>{t(K::studio_products_delete)}</button>
                })}
            </div>
            <Show when=move || editing.get()>
                <div class="studio-product-edit">
                    <form class="stack" on:submit=save aria-label=t(K::studio_products_edit_form)>
                        <ProductFields form=form ask_reason=presented/>
                        <button type="submit" class="btn btn-primary">{t(K::studio_products_save)}</button>
                    </form>
                    <VariantsEditor product_id=pid variants=product.variants.clone() edits=edits msg=msg/>
                    <ImageUpload kind="product" target_id=pid.get() label=t(K::studio_products_upload_image) edits=edits msg=msg/>
                </div>
            </Show>
        </li>
    }
}

/// A product's variants (shade, size): name, own stock, optional own price. Saving replaces
/// the list; stock edits apply the difference to the stock as it was when the panel opened.
#[component]
fn VariantsEditor(
    product_id: ProductId,
    variants: Vec<VariantView>,
    edits: Edits,
    msg: StatusLine,
) -> impl IntoView {
    let rows = RwSignal::new(
        variants
            .iter()
            .map(|v| VariantForm {
                id: Some(v.id),
                name: v.name.clone(),
                stock: v.stock,
                stock_was: Some(v.stock),
                price: v.price.map(|p| p.to_yuan_string()).unwrap_or_default(),
            })
            .collect::<Vec<_>>(),
    );
    let add = move |_| {
        rows.update(|r| {
            r.push(VariantForm {
                id: None,
                name: String::new(),
                stock: 0,
                stock_was: None,
                price: String::new(),
            })
        })
    };
    let set = studio_action(msg, edits, K::studio_products_variants_saved, move |list| {
        studio_set_variants(product_id, list)
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set.dispatch(rows.get_untracked());
    };
    let field = move |i: usize, f: fn(&VariantForm) -> String| {
        move || rows.with(|r| r.get(i).map(f).unwrap_or_default())
    };
    view! {
        <form class="stack variants-editor" on:submit=save aria-label=t(K::studio_products_variants)>
            <h4>{t(K::studio_products_variants_title)}</h4>
            <p class="muted small">{t(K::studio_products_variants_hint)}</p>
            {move || (0..rows.with(Vec::len)).map(|i| view! {
                <div class="variant-row">
                    <input type="text" maxlength="40" required aria-label=tf(K::studio_products_variant_name, &[("n", &(i + 1).to_string())])
                        prop:value=field(i, |v| v.name.clone())
                        on:input=move |ev| rows.update(|r| if let Some(v) = r.get_mut(i) { v.name = event_target_value(&ev) })/>
                    <input type="number" min="0" max="1000000" required aria-label=tf(K::studio_products_variant_stock, &[("n", &(i + 1).to_string())])
                        prop:value=field(i, |v| v.stock.to_string())
                        on:input=move |ev| rows.update(|r| if let Some(v) = r.get_mut(i) { v.stock = event_target_value(&ev).parse().unwrap_or(0) })/>
                    <input type="text" inputmode="decimal" placeholder=t(K::studio_products_price_placeholder) aria-label=tf(K::studio_products_variant_price, &[("n", &(i + 1).to_string())])
                        prop:value=field(i, |v| v.price.clone())
                        on:input=move |ev| rows.update(|r| if let Some(v) = r.get_mut(i) { v.price = event_target_value(&ev) })/>
                    <button type="button" class="btn btn-small" aria-label=tf(K::studio_products_variant_remove, &[("n", &(i + 1).to_string())])
                        on:click=move |_| rows.update(|r| { if i < r.len() { r.remove(i); } })>"×"</button>
                </div>
            }).collect_view()}
            <div class="row">
                <button type="button" class="btn btn-small" on:click=add>{t(K::studio_products_variant_add)}</button>
                <button type="submit" class="btn btn-small btn-primary">{t(K::studio_products_variants_save)}</button>
            </div>
        </form>
    }
}
