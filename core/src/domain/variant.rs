//! A product's variants (shade, size) as the studio sends them, parsed: each name clean and
//! unique within the product, stock within bounds, an optional price of its own. Pure.
//!
//! A product with variants sells each from its own stock; the product's stock is their sum.
//! What the discount counts stays per product (one discounted unit per shopper per product,
//! whatever the variant), so a variant changes the price and the stock, never eligibility.

use crate::{domain::money::Fen, domain::text::clean_line, error::AppError};
use serde::{Deserialize, Serialize};

/// A variant as the studio edits it: `id` for an existing one; `price` empty for the
/// product's price; `stock_was` the stock the form showed (the edit applies the difference).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantForm {
    #[serde(default)]
    pub id: Option<i64>,
    pub name: String,
    pub stock: i64,
    #[serde(default)]
    pub stock_was: Option<i64>,
    #[serde(default)]
    pub price: String,
}

/// Variants per product, at most.
pub const MAX_VARIANTS: usize = 30;
/// Characters in a variant's name, at most ("Rose 02", "XL", "50 ml").
pub const MAX_NAME: usize = 40;

/// One variant, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantInput {
    /// The variant this edits (`None`: a new one).
    pub id: Option<i64>,
    pub name: String,
    pub stock: i64,
    /// The stock the form was opened with: with it the edit applies the difference, so units
    /// sold while the host typed are not put back on sale.
    pub stock_was: Option<i64>,
    /// Its own price; `None` sells it at the product's.
    pub price: Option<Fen>,
}

/// Checks a product's whole list of variants (an empty list: the product has none).
pub fn parse_variants(forms: &[VariantForm]) -> Result<Vec<VariantInput>, AppError> {
    if forms.len() > MAX_VARIANTS {
        return Err(AppError::bad_request(format!(
            "A product can have at most {MAX_VARIANTS} variants."
        )));
    }
    let mut out: Vec<VariantInput> = Vec::with_capacity(forms.len());
    for f in forms {
        let name = clean_line(&f.name, MAX_NAME).map_err(|_| {
            AppError::bad_request(format!(
                "Give each variant a name of 1 to {MAX_NAME} characters."
            ))
        })?;
        if out
            .iter()
            .any(|v| v.name.to_lowercase() == name.to_lowercase())
        {
            return Err(AppError::bad_request(format!(
                "Two variants are called \"{name}\": give each its own name."
            )));
        }
        let in_range = |n: i64| (0..=1_000_000).contains(&n);
        if !in_range(f.stock) || f.stock_was.is_some_and(|w| !in_range(w)) {
            return Err(AppError::bad_request(
                "A variant's stock must be between 0 and 1,000,000.",
            ));
        }
        if f.id.is_some_and(|id| id <= 0) {
            return Err(AppError::bad_request("Unknown variant."));
        }
        let price = match f.price.trim() {
            "" => None,
            raw => Some(Fen::parse_yuan(raw).map_err(|e| AppError::bad_request(e.to_string()))?),
        };
        out.push(VariantInput {
            id: f.id,
            name,
            stock: f.stock,
            stock_was: f.stock_was,
            price,
        });
    }
    Ok(out)
}

/// What the shopper is charged per unit: the variant's own price, else the product's.
pub fn unit_price(product_price: Fen, variant_price: Option<Fen>) -> Fen {
    variant_price.unwrap_or(product_price)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, stock: i64, price: &str) -> VariantForm {
        VariantForm {
            id: None,
            name: name.into(),
            stock,
            stock_was: None,
            price: price.into(),
        }
    }

    #[test]
    fn a_clean_list_parses_with_optional_prices() {
        let v = parse_variants(&[form(" Rose 02 ", 5, ""), form("Coral 05", 0, "139.00")])
            .expect("valid");
        assert_eq!(v[0].name, "Rose 02");
        assert_eq!(v[0].price, None);
        assert_eq!(v[1].price, Some(Fen(13_900)));
        assert_eq!(unit_price(Fen(12_900), v[0].price), Fen(12_900));
        assert_eq!(unit_price(Fen(12_900), v[1].price), Fen(13_900));
    }

    #[test]
    fn names_must_be_clean_and_unique_whatever_their_case() {
        for bad in ["", "   ", &"x".repeat(MAX_NAME + 1), "\u{0}\u{1}"] {
            assert!(parse_variants(&[form(bad, 1, "")]).is_err(), "{bad:?}");
        }
        let dup = parse_variants(&[form("XL", 1, ""), form("xl", 1, "")]);
        assert!(dup.is_err());
    }

    #[test]
    fn stock_price_and_count_are_bounded() {
        assert!(parse_variants(&[form("A", -1, "")]).is_err());
        assert!(parse_variants(&[form("A", 1_000_001, "")]).is_err());
        assert!(parse_variants(&[form("A", 1, "0")]).is_err());
        assert!(parse_variants(&[form("A", 1, "abc")]).is_err());
        let mut was = form("A", 1, "");
        was.stock_was = Some(-5);
        assert!(parse_variants(&[was]).is_err());
        let many: Vec<VariantForm> = (0..=MAX_VARIANTS)
            .map(|i| form(&format!("v{i}"), 1, ""))
            .collect();
        assert!(parse_variants(&many).is_err());
        assert!(parse_variants(&many[..MAX_VARIANTS]).is_ok());
    }
}
