//! A shopper's address book, and the copy of an address an order ships to.

use crate::error::{OptionExt, Result};
use crate::{
    db::Db,
    domain::address::{Address, AddressForm},
    error::AppError,
    model::SavedAddress,
};
use shop_core::ids::{OrderId, ShopperId};

/// At most this many addresses per shopper.
pub const MAX_ADDRESSES: i64 = 20;

type Row = (i64, String, String, String, String, String, String);

fn saved((id, recipient, phone, province, city, district, street): Row) -> SavedAddress {
    let one_line = format!("{province}{city}{district}{street}");
    SavedAddress {
        id,
        form: AddressForm {
            recipient,
            phone,
            province,
            city,
            district,
            street,
        },
        one_line,
    }
}

/// The shopper's addresses, the one used last first.
pub async fn list(db: &Db, shopper_id: ShopperId) -> Result<Vec<SavedAddress>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, recipient, phone, province, city, district, street FROM addresses
          WHERE shopper_id = $1 ORDER BY last_used_ms DESC, id DESC",
    )
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(saved).collect())
}

/// Adds an address (or, with `id`, edits one of the shopper's own) and makes it the one used
/// last.
pub async fn save(
    db: &Db,
    shopper_id: ShopperId,
    id: Option<i64>,
    a: &Address,
    now_ms: i64,
) -> Result<SavedAddress> {
    let id = match id {
        Some(id) => {
            let res = sqlx::query(
                "UPDATE addresses SET recipient = $1, phone = $2, province = $3, city = $4, district = $5,
                        street = $6, last_used_ms = $7
                  WHERE id = $8 AND shopper_id = $9",
            )
            .bind(&a.recipient)
            .bind(a.phone.as_str())
            .bind(&a.province)
            .bind(&a.city)
            .bind(&a.district)
            .bind(&a.street)
            .bind(now_ms)
            .bind(id)
            .bind(shopper_id)
            .execute(db.pool())
            .await?;
            if res.rows_affected() != 1 {
                return Err(AppError::not_found("no such address").into());
            }
            id
        }
        None => {
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM addresses WHERE shopper_id = $1")
                    .bind(shopper_id)
                    .fetch_one(db.pool())
                    .await?;
            if count >= MAX_ADDRESSES {
                return Err(AppError::Conflict(format!(
                    "At most {MAX_ADDRESSES} addresses: delete one first."
                ))
                .into());
            }
            sqlx::query_scalar(
                "INSERT INTO addresses (shopper_id, recipient, phone, province, city, district, street, last_used_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(shopper_id)
            .bind(&a.recipient)
            .bind(a.phone.as_str())
            .bind(&a.province)
            .bind(&a.city)
            .bind(&a.district)
            .bind(&a.street)
            .bind(now_ms)
            .fetch_one(db.pool())
            .await?
        }
    };
    Ok(saved((
        id,
        a.recipient.clone(),
        a.phone.as_str().to_string(),
        a.province.clone(),
        a.city.clone(),
        a.district.clone(),
        a.street.clone(),
    )))
}

pub async fn delete(db: &Db, shopper_id: ShopperId, id: i64) -> Result<()> {
    let res = sqlx::query("DELETE FROM addresses WHERE id = $1 AND shopper_id = $2")
        .bind(id)
        .bind(shopper_id)
        .execute(db.pool())
        .await?;
    if res.rows_affected() != 1 {
        return Err(AppError::not_found("no such address").into());
    }
    Ok(())
}

/// Ships the shopper's order to a copy of one of their addresses (again: to another one,
/// until the order is shipped), and remembers that address as the one used last. Returns the
/// copy as the shopper sees it (phone masked).
pub async fn attach(
    db: &Db,
    shopper_id: ShopperId,
    order_id: OrderId,
    address_id: i64,
    now_ms: i64,
) -> Result<String> {
    let mut w = db.begin_write().await?;
    let order: Option<(String, i64)> = sqlx::query_as(
        "SELECT o.status, (SELECT COUNT(*) FROM shipments s WHERE s.order_id = o.id)
           FROM orders o WHERE o.id = $1 AND o.shopper_id = $2",
    )
    .bind(order_id)
    .bind(shopper_id)
    .fetch_optional(&mut *w.tx)
    .await?;
    match order {
        None => return Err(AppError::not_found("no such order").into()),
        Some((_, shipped)) if shipped > 0 => {
            return Err(AppError::Conflict("This order has already shipped.".into()).into())
        }
        Some((status, _)) if status != "paid" && status != "pending_payment" => {
            return Err(AppError::Conflict("This order does not ship.".into()).into())
        }
        Some(_) => {}
    }
    let found =
        sqlx::query("UPDATE addresses SET last_used_ms = $1 WHERE id = $2 AND shopper_id = $3")
            .bind(now_ms)
            .bind(address_id)
            .bind(shopper_id)
            .execute(&mut *w.tx)
            .await?;
    if found.rows_affected() != 1 {
        return Err(AppError::not_found("no such address").into());
    }
    type Copy = (String, String, String, String, String, String);
    let (r, p, a, b, c, d): Copy = sqlx::query_as(
        "INSERT INTO order_addresses (order_id, recipient, phone, province, city, district, street)
         SELECT $1, recipient, phone, province, city, district, street FROM addresses WHERE id = $2
         ON CONFLICT (order_id) DO UPDATE SET recipient = excluded.recipient, phone = excluded.phone,
            province = excluded.province, city = excluded.city, district = excluded.district,
            street = excluded.street
         RETURNING recipient, phone, province, city, district, street",
    )
    .bind(order_id)
    .bind(address_id)
    .fetch_one(&mut *w.tx)
    .await?;
    w.commit().await?;
    super::orders::ship_to(Some(r), Some(p), [Some(a), Some(b), Some(c), Some(d)], true)
        .or_fault("the address just written does not read back")
}
