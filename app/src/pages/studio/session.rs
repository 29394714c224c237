//! `/studio/s/{id}`: one session in the studio. Run of show (go live, present, next, sold out,
//! end), live dashboard, session details, cover, and the product list (add, edit, reorder,
//! images). Every action is checked again by the server.

use std::{collections::HashMap, time::Duration};

use leptos::{prelude::*, task::spawn_local};
use leptos_router::hooks::use_params_map;

use crate::{
    api::studio::{
        current_host, end_session, get_studio_session, go_live, mark_sold_out, present_next,
        present_product, studio_add_product, studio_dashboard, studio_delete_product,
        studio_delete_session, studio_move_product, studio_update_product, studio_update_session,
        studio_upload_image,
    },
    components::{
        browser::{confirm, datetime_local_to_ms, ms_to_datetime_local},
        status::StatusBadge,
        time::LocalTime,
        ErrorNotice, Loading,
    },
    error::AppError,
    model::{
        Dashboard, HostMe, ProductForm, SessionForm, SessionStatus, StudioProduct, StudioSession,
    },
    pages::studio::{broadcast::BroadcastPanel, SessionFields, StudioBar},
};

const DASHBOARD_REFRESH: Duration = Duration::from_secs(3);

#[component]
pub fn StudioSessionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let host = LocalResource::new(current_host);
    view! {
        <div class="studio">
            <Suspense fallback=|| view! { <Loading label="Loading the studio…"/> }>
                {move || Suspend::new(async move {
                    match (host.await, id()) {
                        (Ok(Some(h)), Some(id)) => view! { <StudioBar host=Some(h.clone())/><SessionStudio session_id=id host=h/> }.into_any(),
                        (Ok(Some(h)), None) => view! { <StudioBar host=Some(h)/><p class="notice">"This session does not exist."</p> }.into_any(),
                        (Ok(None), _) => view! {
                            <StudioBar host={None::<HostMe>}/>
                            <p class="notice">"Please " <a href="/studio">"sign in to the studio"</a> " first."</p>
                        }.into_any(),
                        (Err(e), _) => view! { <ErrorNotice error=e on_retry=Callback::new(move |_| host.refetch())/> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// A small status line for the result of the last action.
fn report(msg: RwSignal<Option<Result<String, String>>>, res: Result<String, AppError>) {
    msg.set(Some(res.map_err(|e| e.to_string())));
}

#[component]
fn SessionStudio(session_id: i64, host: HostMe) -> impl IntoView {
    let _ = host;
    let session = RwSignal::new(None::<Result<StudioSession, AppError>>);
    // Owned here, not by the parts that reload: every action reloads the session, and the
    // status line, the live figures and the chat panel must outlive that.
    let msg = RwSignal::new(None::<Result<String, String>>);
    let reload = Callback::new(move |_| {
        spawn_local(async move { session.set(Some(get_studio_session(session_id).await)) });
    });
    reload.run(());
    // Stock changes with every sale: the live figures (refreshed every few seconds) and each
    // reload write it here, and the product list shows it from here.
    let stock = RwSignal::new(HashMap::<i64, i64>::new());
    Effect::new(move |_| {
        session.with(|s| {
            if let Some(Ok(s)) = s {
                stock.update(|m| m.extend(s.products.iter().map(|p| (p.id, p.stock))));
            }
        })
    });
    let loaded = move || session.with(|s| s.as_ref().and_then(|r| r.as_ref().ok()).cloned());
    let status = Memo::new(move |_| {
        session.with(|s| s.as_ref().and_then(|r| r.as_ref().ok()).map(|s| s.status))
    });
    view! {
        {move || match session.with(|s| s.as_ref().map(|r| r.as_ref().err().cloned())) {
            None => view! { <Loading label="Loading session…"/> }.into_any(),
            Some(Some(e)) => view! { <ErrorNotice error=e on_retry=reload/> }.into_any(),
            Some(None) => view! {
                <div class="studio-main studio-session">
                    {move || loaded().map(|s| view! { <SessionHeader session=s/> })}
                    <p class="studio-msg" role="status" aria-live="polite">
                        {move || msg.get().map(|m| match m {
                            Ok(t) => view! { <span class="ok">{t}</span> }.into_any(),
                            Err(t) => view! { <span class="error">{t}</span> }.into_any(),
                        })}
                    </p>
                    <div class="studio-grid">
                        <div class="studio-col">
                            {move || loaded().map(|s| view! { <RunOfShow session=s reload=reload msg=msg/> })}
                            <ProductsEditor session=session stock=stock reload=reload msg=msg/>
                        </div>
                        <div class="studio-col">
                            {move || (status.get().is_some_and(|s| s != SessionStatus::Ended)).then(|| view! { <BroadcastPanel session_id=session_id msg=msg/> })}
                            <DashboardPanel session_id=session_id stock=stock/>
                            {move || (status.get() == Some(SessionStatus::Live)).then(|| view! { <ChatModeration session_id=session_id msg=msg/> })}
                            {move || status.get().and_then(|_| loaded()).map(|s| view! { <DetailsEditor session=s reload=reload msg=msg/> })}
                        </div>
                    </div>
                </div>
            }.into_any(),
        }}
    }
}

#[component]
fn SessionHeader(session: StudioSession) -> impl IntoView {
    let id = session.id;
    let status = session.status;
    view! {
        <header class="studio-head">
            <div>
                <StatusBadge status=status/>
                <h1>{session.title.clone()}</h1>
                <p class="muted small">"Starts " <LocalTime ms=session.scheduled_start_ms/></p>
            </div>
            <nav class="studio-links" aria-label="Session links">
                <a class="btn btn-small" href=format!("/s/{id}") target="_blank" rel="noopener">"Shopper view"</a>
                {(status == SessionStatus::Ended).then(|| view! { <a class="btn btn-small" href=format!("/studio/s/{id}/summary")>"Summary"</a> })}
            </nav>
        </header>
    }
}

#[component]
fn RunOfShow(
    session: StudioSession,
    reload: Callback<()>,
    msg: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let id = session.id;
    let current = session
        .current_product_id
        .and_then(|c| session.products.iter().find(|p| p.id == c))
        .map(|p| p.name.clone());
    let live = move |_| {
        spawn_local(async move {
            report(
                msg,
                go_live(id)
                    .await
                    .map(|_| "You're live! Reservers' pages switched to the live room.".into()),
            );
            reload.try_run(());
        });
    };
    let next = move |_| {
        spawn_local(async move {
            report(
                msg,
                present_next(id)
                    .await
                    .map(|_| "Presenting the next product.".into()),
            );
            reload.try_run(());
        });
    };
    let end = move |_| {
        if !confirm("End the session? Buying stops and invites expire.") {
            return;
        }
        spawn_local(async move {
            report(
                msg,
                end_session(id)
                    .await
                    .map(|_| "The session has ended.".into()),
            );
            reload.try_run(());
        });
    };
    view! {
        <section class="card run-of-show" aria-labelledby="ros-title">
            <h2 id="ros-title">"Run of show"</h2>
            {match session.status {
                SessionStatus::Scheduled => view! {
                    <p class="muted">"When you start, reservers' pages switch to the live room and buying opens."</p>
                    <button type="button" class="btn btn-primary btn-big" on:click=live>"Go live"</button>
                }.into_any(),
                SessionStatus::Live => view! {
                    <p class="now-presenting">"Explaining now: " <strong>{current.unwrap_or_else(|| "nothing yet".into())}</strong></p>
                    <div class="ros-actions">
                        <button type="button" class="btn btn-primary btn-big" on:click=next>"Next product"</button>
                        <button type="button" class="btn btn-danger" on:click=end>"End session"</button>
                    </div>
                }.into_any(),
                SessionStatus::Ended => view! {
                    <p>"This session has ended. " <a href=format!("/studio/s/{id}/summary")>"See the summary and export orders"</a></p>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
pub fn DashboardPanel(
    session_id: i64,
    /// Receives each product's stock from every refresh (the product list shows it).
    #[prop(optional)]
    stock: Option<RwSignal<HashMap<i64, i64>>>,
) -> impl IntoView {
    let data = RwSignal::new(None::<Result<Dashboard, AppError>>);
    let load = move || {
        spawn_local(async move {
            let d = studio_dashboard(session_id).await;
            if let (Some(stock), Ok(d)) = (stock, &d) {
                stock.update(|m| m.extend(d.per_product.iter().map(|p| (p.product_id, p.stock))));
            }
            data.set(Some(d));
        })
    };
    load();
    if let Ok(handle) = set_interval_with_handle(load, DASHBOARD_REFRESH) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <section class="card dashboard" aria-labelledby="dash-title">
            <h2 id="dash-title">"Live figures"</h2>
            {move || match data.get() {
                None => view! { <Loading label="Loading figures…"/> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(d)) => view! { <DashboardFigures dashboard=d/> }.into_any(),
            }}
        </section>
    }
}

#[component]
pub fn DashboardFigures(dashboard: Dashboard) -> impl IntoView {
    let d = dashboard;
    let figure = |label: &'static str, value: String, key: &'static str| {
        view! {
            <div class="figure" data-figure=key><dt>{label}</dt><dd>{value}</dd></div>
        }
    };
    view! {
        <dl class="figures">
            {figure("Reservations", d.reservations.to_string(), "reservations")}
            {figure("Invites created", d.invites_created.to_string(), "invites")}
            {figure("Friends joined", d.friends_joined.to_string(), "friends")}
            {figure("Viewers now", d.viewers.map(|v| v.to_string()).unwrap_or_else(|| "—".into()), "viewers")}
            {figure("Orders", d.orders.to_string(), "orders")}
            {figure("Units sold", d.units_sold.to_string(), "units")}
            {figure("GMV", d.gmv.to_string(), "gmv")}
            {figure("Discount given", d.discount_given.to_string(), "discount")}
        </dl>
        <table class="sales">
            <caption class="sr-only">"Sales per product"</caption>
            <thead><tr><th scope="col">"Product"</th><th scope="col">"Sold"</th><th scope="col">"Revenue"</th><th scope="col">"Stock"</th></tr></thead>
            <tbody>
                {d.per_product.into_iter().map(|p| view! {
                    <tr data-product-id=p.product_id>
                        <th scope="row">{p.name}{p.presented.then(|| view! { <span class="badge badge-presented">"presented"</span> })}</th>
                        <td>{p.units_sold}</td>
                        <td>{p.revenue.to_string()}</td>
                        <td>{p.stock}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DetailsEditor(
    session: StudioSession,
    reload: Callback<()>,
    msg: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let id = session.id;
    let editable = session.status == SessionStatus::Scheduled;
    let form = RwSignal::new(SessionForm {
        title: session.title.clone(),
        description: session.description.clone(),
        scheduled_start_ms: session.scheduled_start_ms,
        policy: session.policy.clone(),
    });
    let start_text = RwSignal::new(ms_to_datetime_local(session.scheduled_start_ms));
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut f = form.get_untracked();
        match datetime_local_to_ms(&start_text.get_untracked()) {
            Some(ms) => f.scheduled_start_ms = ms,
            None => return msg.set(Some(Err("Choose when the session starts.".into()))),
        }
        spawn_local(async move {
            report(
                msg,
                studio_update_session(id, f)
                    .await
                    .map(|_| "Session saved.".into()),
            );
            reload.try_run(());
        });
    };
    let delete = move |_| {
        if !confirm("Delete this session and its products? This cannot be undone.") {
            return;
        }
        spawn_local(async move {
            match studio_delete_session(id).await {
                Ok(()) => {
                    if let Some(w) = leptos::web_sys::window() {
                        let _ = w.location().set_href("/studio");
                    }
                }
                Err(e) => msg.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="details-title">
            <h2 id="details-title">"Session details"</h2>
            <img class="studio-cover" src=session.cover_url.clone() alt="Session cover" width="320" height="180"/>
            <ImageUpload kind="cover" target_id=id label="Upload cover" reload=reload msg=msg/>
            {if editable {
                view! {
                    <form class="stack" on:submit=save>
                        <SessionFields form=form start_text=start_text/>
                        <div class="row">
                            <button type="submit" class="btn btn-primary">"Save details"</button>
                            <button type="button" class="btn btn-danger" on:click=delete>"Delete session"</button>
                        </div>
                    </form>
                }.into_any()
            } else {
                let p = session.policy.clone();
                view! {
                    <p class="muted">"Details are locked once the session has gone live."</p>
                    <p>{format!("{}% off · {} friend(s) to unlock · {} discounted unit(s) per shopper per product{} · limit {} per shopper{}",
                        p.percent_off, p.friends_needed, p.units_per_shopper,
                        p.units_cap.map(|c| format!(" · cap {c} per product")).unwrap_or_default(), p.purchase_limit,
                        if p.verified_phone_required { " · verified phone required" } else { "" })}</p>
                }.into_any()
            }}
        </section>
    }
}

/// Uploads an image file (validated and resized by the server).
#[component]
fn ImageUpload(
    kind: &'static str,
    target_id: i64,
    #[prop(into)] label: String,
    reload: Callback<()>,
    msg: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let input_label = label.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = event_target::<leptos::web_sys::HtmlFormElement>(&ev).into() else {
            return;
        };
        let Ok(data) = leptos::web_sys::FormData::new_with_form(&form) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            report(
                msg,
                studio_upload_image(data.into())
                    .await
                    .map(|_| "Image uploaded.".into()),
            );
            busy.set(false);
            reload.try_run(());
        });
    };
    view! {
        <form class="upload" on:submit=submit>
            <input type="hidden" name="kind" value=kind/>
            <input type="hidden" name="id" value=target_id.to_string()/>
            <input type="file" name="file" accept="image/jpeg,image/png,image/webp,image/gif" required aria-label=format!("{input_label}: choose a file")/>
            <button type="submit" class="btn btn-small" disabled=move || busy.get()>{label}</button>
        </form>
    }
}

/// The product list. Rows are keyed by everything they show, so a reload rebuilds only the
/// rows that changed (an open edit panel elsewhere stays open, focus stays put).
#[component]
fn ProductsEditor(
    session: RwSignal<Option<Result<StudioSession, AppError>>>,
    stock: RwSignal<HashMap<i64, i64>>,
    reload: Callback<()>,
    msg: RwSignal<Option<Result<String, String>>>,
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
        Option<i64>,
    )| {
        // Not the stock: it changes with every sale and the row shows it live.
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{:?}|{}",
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
            <h2 id="products-title">{move || format!("Products ({})", count())}</h2>
            <ol class="studio-products">
                <For each=rows key=key let:row>
                    <ProductEditorRow product=row.0 status=row.1 first=row.2 last=row.3
                        current=row.4 stock=stock reload=reload msg=msg/>
                </For>
            </ol>
            {move || current().filter(|c| c.1 != SessionStatus::Ended).map(|c| view! { <AddProduct session_id=c.0 reload=reload msg=msg/> })}
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
        <label class="field"><span>"Name"</span>
            <input type="text" name="name" required maxlength="80" prop:value=move || form.with(|f| f.name.clone())
                on:input=move |ev| form.update(|f| f.name = event_target_value(&ev))/>
        </label>
        <label class="field"><span>"Category"</span>
            <input type="text" name="category" required maxlength="40" list="categories" prop:value=move || form.with(|f| f.category.clone())
                on:input=move |ev| form.update(|f| f.category = event_target_value(&ev))/>
        </label>
        <datalist id="categories">
            <option value="Cosmetics"/><option value="Skincare"/><option value="Baby care"/><option value="Health"/>
        </datalist>
        <label class="field"><span>"Description"</span>
            <textarea name="description" rows="2" maxlength="1000" prop:value=move || form.with(|f| f.description.clone())
                on:input=move |ev| form.update(|f| f.description = event_target_value(&ev))></textarea>
        </label>
        <div class="row">
            <label class="field"><span>"Price (¥)"</span>
                <input type="text" name="price" inputmode="decimal" required placeholder="129.00" prop:value=move || form.with(|f| f.price.clone())
                    on:input=move |ev| form.update(|f| f.price = event_target_value(&ev))/>
            </label>
            <label class="field"><span>"Stock"</span>
                <input type="number" name="stock" min="0" required prop:value=move || form.with(|f| f.stock.to_string())
                    on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { form.update(|f| f.stock = v) } }/>
            </label>
        </div>
        {ask_reason.then(|| view! {
            <label class="field"><span>"Reason for a price change (recorded in the audit log)"</span>
                <input type="text" name="reason" maxlength="200" prop:value=move || form.with(|f| f.reason.clone().unwrap_or_default())
                    on:input=move |ev| form.update(|f| f.reason = Some(event_target_value(&ev)))/>
            </label>
        })}
    }
}

#[component]
fn AddProduct(
    session_id: i64,
    reload: Callback<()>,
    msg: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let form = RwSignal::new(product_form(None));
    let open = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = form.get_untracked();
        spawn_local(async move {
            let res = studio_add_product(session_id, f).await;
            if res.is_ok() {
                form.set(product_form(None));
                open.set(false);
            }
            report(msg, res.map(|_| "Product added.".into()));
            reload.try_run(());
        });
    };
    view! {
        <button type="button" class="btn" on:click=move |_| open.update(|o| *o = !*o) aria-expanded=move || open.get().to_string()>"Add product"</button>
        <Show when=move || open.get()>
            <form class="stack add-product" on:submit=submit aria-label="New product">
                <ProductFields form=form/>
                <button type="submit" class="btn btn-primary">"Save product"</button>
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
    current: Option<i64>,
    stock: RwSignal<HashMap<i64, i64>>,
    reload: Callback<()>,
    msg: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let pid = product.id;
    let listed_stock = product.stock;
    let stock_now = move || stock.with(|m| m.get(&pid).copied()).unwrap_or(listed_stock);
    let editing = RwSignal::new(false);
    let form = RwSignal::new(product_form(Some(&product)));
    let presented = product.presented;
    let name = product.name.clone();
    let act = move |label: &'static str,
                    f: fn(
        i64,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), AppError>>>,
    >| {
        move |_| {
            spawn_local(async move {
                report(msg, f(pid).await.map(|_| label.to_string()));
                reload.try_run(());
            });
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = form.get_untracked();
        spawn_local(async move {
            let res = studio_update_product(pid, f).await;
            if res.is_ok() {
                editing.set(false);
            }
            report(msg, res.map(|_| "Product saved.".into()));
            reload.try_run(());
        });
    };
    let is_current = current == Some(pid);
    view! {
        <li class="studio-product" class:current=is_current data-product-id=pid>
            <img src=product.image_url.clone() alt="" width="64" height="64"/>
            <div class="studio-product-body">
                <strong>{product.name.clone()}</strong>
                <span class="muted small">{format!("{} · {} · stock ", product.category, product.price)}<span class="live-stock">{stock_now}</span></span>
                <span>
                    {is_current.then(|| view! { <span class="badge badge-live">"Explaining now"</span> })}
                    {presented.then(|| view! { <span class="badge badge-presented">"Presented"</span> })}
                </span>
            </div>
            <div class="studio-product-actions">
                {(status == SessionStatus::Live).then(|| view! {
                    <button type="button" class="btn btn-small btn-primary" aria-label=format!("Present {name}")
                        on:click=act("Presenting now.", |id| Box::pin(present_product(id)))>"Present"</button>
                    <button type="button" class="btn btn-small" aria-label=format!("Mark {name} sold out")
                        on:click=act("Marked sold out.", |id| Box::pin(mark_sold_out(id)))>"Sold out"</button>
                })}
                <button type="button" class="btn btn-small" aria-label=format!("Move {} up", product.name) disabled=first
                    on:click=act("Moved.", |id| Box::pin(studio_move_product(id, -1)))>"↑"</button>
                <button type="button" class="btn btn-small" aria-label=format!("Move {} down", product.name) disabled=last
                    on:click=act("Moved.", |id| Box::pin(studio_move_product(id, 1)))>"↓"</button>
                {(status != SessionStatus::Ended).then(|| view! {
                    <button type="button" class="btn btn-small" aria-label=format!("Edit {}", product.name)
                        on:click=move |_| {
                            if !editing.get_untracked() {
                                // Edit from the stock as it is now; saving applies the difference.
                                let now = stock_now();
                                form.update(|f| { f.stock = now; f.stock_was = Some(now); });
                            }
                            editing.update(|e| *e = !*e)
                        }>"Edit"</button>
                })}
                {(status == SessionStatus::Scheduled).then(|| view! {
                    <button type="button" class="btn btn-small btn-danger" aria-label=format!("Delete {}", product.name)
                        on:click=move |ev| { if confirm("Delete this product?") { act("Product deleted.", |id| Box::pin(studio_delete_product(id)))(ev) } }>"Delete"</button>
                })}
            </div>
            <Show when=move || editing.get()>
                <div class="studio-product-edit">
                    <form class="stack" on:submit=save aria-label="Edit product">
                        <ProductFields form=form ask_reason=presented/>
                        <button type="submit" class="btn btn-primary">"Save product"</button>
                    </form>
                    <ImageUpload kind="product" target_id=pid label="Upload image" reload=reload msg=msg/>
                </div>
            </Show>
        </li>
    }
}

/// The live chat as the host sees it: every message, with Delete and Mute, and a box to
/// speak as the host (always broadcast, marked as the host's).
#[component]
fn ChatModeration(session_id: i64, msg: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    use crate::{
        api::live::{delete_chat, mute_shopper, post_chat},
        components::live_stream::use_live_stream,
        model::{ChatLine, LiveEvent},
    };
    let lines = RwSignal::new(Vec::<ChatLine>::new());
    let connected = RwSignal::new(false);
    let on_event = Callback::new(move |ev: LiveEvent| match ev {
        LiveEvent::Snapshot { chat, .. } => lines.set(chat),
        LiveEvent::Chat { message, .. } => lines.update(|l| {
            if !l.iter().any(|m| m.id == message.id) {
                l.push(message);
                let excess = l.len().saturating_sub(50);
                l.drain(..excess);
            }
        }),
        LiveEvent::ChatDeleted { id, .. } => lines.update(|l| l.retain(|m| m.id != id)),
        _ => {}
    });
    use_live_stream(session_id, on_event, connected);
    let text = RwSignal::new(String::new());
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked();
        spawn_local(async move {
            match post_chat(session_id, t).await {
                Ok(_) => text.set(String::new()),
                Err(e) => msg.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="card moderation" aria-labelledby="mod-title">
            <h2 id="mod-title">"Live chat"</h2>
            <Show when=move || !connected.get()><p class="muted small" role="status">"Connecting…"</p></Show>
            <ul class="mod-lines">
                {move || lines.get().into_iter().rev().map(|m| {
                    let (id, shopper, name) = (m.id, m.shopper_id, m.nickname.clone());
                    view! {
                        <li class="mod-line" data-chat-id=id>
                            <span><strong>{m.nickname.clone()}</strong>" "{m.text.clone()}</span>
                            {(!m.host).then(|| view! {
                                <span class="row">
                                    <button type="button" class="btn btn-small" aria-label=format!("Delete message from {name}")
                                        on:click=move |_| spawn_local(async move {
                                            report(msg, delete_chat(session_id, id).await.map(|_| "Message deleted.".into()));
                                        })>"Delete"</button>
                                    <button type="button" class="btn btn-small btn-danger" aria-label=format!("Mute {}", m.nickname)
                                        on:click=move |_| spawn_local(async move {
                                            report(msg, mute_shopper(session_id, shopper).await.map(|_| "Shopper muted.".into()));
                                        })>"Mute"</button>
                                </span>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="row" on:submit=send>
                <label class="field"><span>"Say something as the host"</span>
                    <input type="text" maxlength="200" required prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn btn-primary">"Send"</button>
            </form>
        </section>
    }
}
