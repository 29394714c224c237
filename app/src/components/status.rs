use leptos::prelude::*;

use crate::model::SessionStatus;

#[component]
pub fn StatusBadge(status: SessionStatus) -> impl IntoView {
    view! {
        <span class=format!("badge badge-{}", status.as_str())>{status.label()}</span>
    }
}
