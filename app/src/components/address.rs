//! Choosing where an order ships: the shopper's saved addresses (the one used last first) or
//! a new one typed in. Used by the pay sheet and by "My orders" (an order placed without an
//! address). The server checks every field again (`domain::address`).

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::addresses::{my_addresses, save_address},
    components::wechat,
    domain::{address::AddressForm, phone::mask},
    i18n::{t, K},
    model::SavedAddress,
};

/// The address picker. `chosen` is the address id the caller sends with the order.
#[component]
pub fn DeliverTo(chosen: RwSignal<Option<i64>>) -> impl IntoView {
    let saved = RwSignal::new(Vec::<SavedAddress>::new());
    let loaded = RwSignal::new(false);
    let adding = RwSignal::new(false);
    let form = RwSignal::new(AddressForm::default());
    let error = RwSignal::new(None::<String>);
    // Read once when the picker opens, choosing and opening what fits: a task, not a resource.
    spawn_local(async move {
        if let Ok(list) = my_addresses().await {
            if chosen.get_untracked().is_none() {
                chosen.try_set(list.first().map(|a| a.id));
            }
            adding.try_set(list.is_empty());
            saved.try_set(list);
        }
        loaded.try_set(true);
    });
    let add = Action::new_local(move |f: &AddressForm| {
        let added = save_address(None, f.clone());
        async move {
            match added.await {
                Ok(a) => {
                    chosen.try_set(Some(a.id));
                    saved.try_update(|l| l.insert(0, a));
                    adding.try_set(false);
                    error.try_set(None);
                    form.try_set(AddressForm::default());
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(form.get_untracked());
    };
    // One text field of the form, with its accessible name and autofill hint.
    let field = move |label: K,
                      auto: &'static str,
                      get: fn(&AddressForm) -> String,
                      set: fn(&mut AddressForm, String)| {
        view! {
            <label class="address-field">
                <span>{t(label)}</span>
                <input type="text" autocomplete=auto required
                    prop:value=move || form.with(get)
                    on:input=move |ev| form.update(|f| set(f, event_target_value(&ev)))/>
            </label>
        }
    };
    view! {
        <fieldset class="deliver-to">
            <legend>{t(K::shop_address_deliver_to)}</legend>
            {move || (!saved.with(Vec::is_empty)).then(|| view! {
                <select aria-label=t(K::shop_address_select)
                    on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
                    {move || saved.get().into_iter().map(|a| {
                        let id = a.id;
                        view! {
                            <option value=id selected=move || chosen.get() == Some(id)>
                                {format!("{} {} · {}", a.form.recipient, mask(&a.form.phone), a.one_line)}
                            </option>
                        }
                    }).collect_view()}
                </select>
            })}
            {move || if adding.get() {
                view! {
                    <form class="address-form" on:submit=save>
                        {move || wechat::sdk().filter(|s| s.ready.get()).map(|sdk| view! {
                            <button type="button" class="btn btn-small" on:click=move |_| {
                                // WeChat's own address book (the JS-SDK), not the server.
                                spawn_local(async move {
                                    if let Some(a) = sdk.open_address().await {
                                        form.try_set(a);
                                    }
                                });
                            }>{t(K::shop_address_use_wechat)}</button>
                        })}
                        {field(K::shop_address_recipient, "name", |f| f.recipient.clone(), |f, v| f.recipient = v)}
                        {field(K::shop_address_phone, "tel", |f| f.phone.clone(), |f, v| f.phone = v)}
                        {field(K::shop_address_province, "address-level1", |f| f.province.clone(), |f, v| f.province = v)}
                        {field(K::shop_address_city, "address-level2", |f| f.city.clone(), |f, v| f.city = v)}
                        {field(K::shop_address_district, "address-level3", |f| f.district.clone(), |f, v| f.district = v)}
                        {field(K::shop_address_street, "street-address", |f| f.street.clone(), |f, v| f.street = v)}
                        <button type="submit" class="btn btn-small" disabled=move || add.pending().get()>{t(K::shop_address_save)}</button>
                        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    </form>
                }.into_any()
            } else if loaded.get() {
                view! { <button type="button" class="btn btn-small" on:click=move |_| adding.set(true)>{t(K::shop_address_new)}</button> }.into_any()
            } else {
                ().into_any()
            }}
        </fieldset>
    }
}
