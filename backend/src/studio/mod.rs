//! The studio service: a host changes a session. Each change checks that the host owns the
//! session, pauses its flash sale while it writes (no order is admitted against half-written
//! facts; the next one loads the session again), writes through the repository, and emits one
//! [`Change`] for the live rooms, the sale gate and the media layer to follow. Server functions
//! (`app::api::studio`) only parse their arguments and call these.

use crate::error::Result;
use crate::{
    buying::sale::{self, Pause},
    changes::Change,
    domain::{discount::LivePrice, variant::VariantInput},
    identity::host_auth::{check_owner, Host},
    model::{PresentingView, ProductForm, SessionForm, SessionStatus, VariantView},
    repo::{self, studio::Presented},
    AppState,
};
use shop_core::ids::{ProductId, SessionId};

/// A session opened for a change by its owner: its sale is paused until the change is done.
struct Editing<'a> {
    st: &'a AppState,
    session_id: SessionId,
    pause: Option<Pause>,
}

impl<'a> Editing<'a> {
    /// Checks that `host` owns `session_id` (404 unknown, 403 another host's), then pauses its
    /// sale.
    async fn open(st: &'a AppState, host: &Host, session_id: SessionId) -> Result<Self> {
        check_owner(st, host, session_id).await?;
        Ok(Editing::paused(st, session_id).await)
    }

    /// [`Editing::open`] for the session a product belongs to.
    async fn open_product(st: &'a AppState, host: &Host, product_id: ProductId) -> Result<Self> {
        let session_id = owned_product(st, host, product_id).await?;
        Ok(Editing::paused(st, session_id).await)
    }

    async fn paused(st: &'a AppState, session_id: SessionId) -> Self {
        Editing {
            st,
            session_id,
            pause: sale::pause(st, session_id).await,
        }
    }

    /// The change is written: the sale resumes, then the followers are told, in order.
    async fn done(mut self, changes: impl IntoIterator<Item = Change>) {
        drop(self.pause.take());
        for change in changes {
            self.st.changes.emit(self.session_id, change).await;
        }
    }
}

/// The session a product belongs to, when `host` owns it (404, 403 otherwise).
pub async fn owned_product(st: &AppState, host: &Host, product_id: ProductId) -> Result<SessionId> {
    let session_id = repo::studio::product_session(&st.db, product_id).await?;
    check_owner(st, host, session_id).await?;
    Ok(session_id)
}

pub async fn update_session(
    st: &AppState,
    host: &Host,
    session_id: SessionId,
    form: &SessionForm,
) -> Result<()> {
    let edit = Editing::open(st, host, session_id).await?;
    let moved_to = repo::studio::update_session(&st.db, session_id, form).await?;
    edit.done([]).await;
    if moved_to.is_some() {
        // The edit marked the move; the reminders' loop tells reservers (any node's).
        st.reminders.nudge();
    }
    Ok(())
}

pub async fn delete_session(st: &AppState, host: &Host, session_id: SessionId) -> Result<()> {
    let edit = Editing::open(st, host, session_id).await?;
    repo::studio::delete_session(&st.db, session_id).await?;
    edit.done([]).await;
    Ok(())
}

pub async fn add_product(
    st: &AppState,
    host: &Host,
    session_id: SessionId,
    form: &ProductForm,
) -> Result<i64> {
    let edit = Editing::open(st, host, session_id).await?;
    let id = repo::studio::add_product(&st.db, session_id, form).await?;
    edit.done([]).await;
    Ok(id)
}

/// Edits a product: a live room shows the new stock, and a new price (with the session's
/// discount applied) makes its viewers work out theirs.
pub async fn update_product(
    st: &AppState,
    host: &Host,
    product_id: ProductId,
    form: &ProductForm,
) -> Result<()> {
    let edit = Editing::open_product(st, host, product_id).await?;
    let session_id = edit.session_id;
    let edited = repo::studio::update_product(&st.db, host, session_id, product_id, form).await?;
    let mut changes = vec![Change::Stock {
        product_id,
        stock: edited.stock,
    }];
    if edited.price_changed {
        let policy = repo::shopping::policy(&st.db, session_id).await?;
        changes.push(Change::Price {
            product_id,
            pricing: LivePrice::new(edited.price, &policy),
        });
    }
    edit.done(changes).await;
    Ok(())
}

/// Replaces a product's variants; the product's stock becomes the sum of theirs.
pub async fn set_variants(
    st: &AppState,
    host: &Host,
    product_id: ProductId,
    list: &[VariantInput],
) -> Result<Vec<VariantView>> {
    let edit = Editing::open_product(st, host, product_id).await?;
    let stock = repo::variants::replace(&st.db, product_id, list).await?;
    edit.done([Change::Stock { product_id, stock }]).await;
    repo::variants::of_product(&st.db, product_id).await
}

pub async fn delete_product(st: &AppState, host: &Host, product_id: ProductId) -> Result<()> {
    let edit = Editing::open_product(st, host, product_id).await?;
    repo::studio::delete_product(&st.db, edit.session_id, product_id).await?;
    edit.done([]).await;
    Ok(())
}

/// Moves a product one place earlier (`delta = -1`) or later (`+1`) in the run of show (the
/// order of products is not a fact of the sale: nothing to pause).
pub async fn move_product(
    st: &AppState,
    host: &Host,
    product_id: ProductId,
    delta: i64,
) -> Result<()> {
    let session_id = owned_product(st, host, product_id).await?;
    repo::studio::move_product(&st.db, session_id, product_id, delta).await
}

/// Scheduled to live: reservers' pages switch to the live room and buying opens.
pub async fn go_live(st: &AppState, host: &Host, session_id: SessionId) -> Result<()> {
    let edit = Editing::open(st, host, session_id).await?;
    repo::studio::go_live(&st.db, session_id).await?;
    edit.done([Change::Lifecycle(SessionStatus::Live)]).await;
    Ok(())
}

/// A private rehearsal starts (`on`) or stops: the team's room runs the show, shoppers see a
/// scheduled session; stopping discards what it did.
pub async fn rehearse(st: &AppState, host: &Host, session_id: SessionId, on: bool) -> Result<()> {
    let edit = Editing::open(st, host, session_id).await?;
    repo::studio::set_rehearsal(&st.db, session_id, on).await?;
    let status = if on {
        SessionStatus::Rehearsal
    } else {
        SessionStatus::Scheduled
    };
    edit.done([Change::Lifecycle(status)]).await;
    Ok(())
}

/// Live to ended: buying stops, invites expire, the broadcast stops.
pub async fn end(st: &AppState, host: &Host, session_id: SessionId) -> Result<()> {
    let edit = Editing::open(st, host, session_id).await?;
    repo::studio::end_session(&st.db, session_id).await?;
    edit.done([Change::Lifecycle(SessionStatus::Ended)]).await;
    Ok(())
}

/// The product being explained now; records it as presented, which opens its discount.
pub async fn present(st: &AppState, host: &Host, product_id: ProductId) -> Result<()> {
    let edit = Editing::open_product(st, host, product_id).await?;
    let presented = repo::studio::present_product(&st.db, edit.session_id, product_id).await?;
    presented_done(st, edit, presented).await
}

/// Presents the next product in the run of show; answers its id.
pub async fn present_next(st: &AppState, host: &Host, session_id: SessionId) -> Result<ProductId> {
    let edit = Editing::open(st, host, session_id).await?;
    let presented = repo::studio::present_next(&st.db, session_id).await?;
    let id = presented.product_id;
    presented_done(st, edit, presented).await?;
    Ok(id)
}

/// The card viewers see (the product as written, the session's discount applied).
async fn presented_done(st: &AppState, edit: Editing<'_>, p: Presented) -> Result<()> {
    let policy = repo::shopping::policy(&st.db, edit.session_id).await?;
    let card = PresentingView {
        product_id: p.product_id,
        name: p.name,
        image_url: p.image_url,
        pricing: LivePrice::new(p.price, &policy),
    };
    edit.done([Change::Presented {
        card,
        stock: p.stock,
    }])
    .await;
    Ok(())
}

/// Marks a product sold out (its stock becomes 0), recorded in the audit log.
pub async fn mark_sold_out(st: &AppState, host: &Host, product_id: ProductId) -> Result<()> {
    let edit = Editing::open_product(st, host, product_id).await?;
    let session_id = edit.session_id;
    repo::studio::mark_sold_out(&st.db, session_id, product_id).await?;
    edit.done([Change::Stock {
        product_id,
        stock: 0,
    }])
    .await;
    repo::studio::audit(
        &st.db,
        Some(session_id),
        host,
        "sold_out",
        &format!("product {product_id}"),
    )
    .await
}
