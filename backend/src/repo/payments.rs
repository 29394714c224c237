//! The demo payment provider's own ledger (`demo_payments`): SQL only; the provider is in
//! `backend/buying/payment/mod.rs`.

use crate::{db::Db, domain::money::Fen, now_ms, repo::orders::rows_per_statement};

/// Records charges (merchant order number, amount, provider reference) in one transaction; a
/// number already recorded keeps its first charge.
pub async fn record_demo_charges(
    db: &Db,
    charges: &[(&str, Fen, String)],
) -> Result<(), sqlx::Error> {
    let mut w = db.begin_write().await?;
    for chunk in charges.chunks(rows_per_statement(db)) {
        let mut sql = String::from(
            "INSERT INTO demo_payments (merchant_ref, amount_fen, reference, created_at_ms) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = 4 * i;
            let sep = if i == 0 { "" } else { ", " };
            sql.push_str(&format!(
                "{sep}(${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4
            ));
        }
        sql.push_str(" ON CONFLICT (merchant_ref) DO NOTHING");
        let mut query = sqlx::query(&sql);
        for (merchant_ref, amount, reference) in chunk {
            query = query
                .bind(*merchant_ref)
                .bind(amount.0)
                .bind(reference)
                .bind(now_ms());
        }
        query.execute(&mut *w.tx).await?;
    }
    w.commit().await
}

/// The reference of the charge recorded for a merchant order number, if any.
pub async fn demo_charge(db: &Db, merchant_ref: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT reference FROM demo_payments WHERE merchant_ref = $1")
        .bind(merchant_ref)
        .fetch_optional(db.pool())
        .await
}
