//! The studio's forms, parsed ("parse, don't validate"): a `SessionInput` or `ProductInput`
//! exists only with clean text (`domain::text`), a start time in range, a policy within its
//! bounds and a parsed price. Pure.

use crate::{
    domain::time::default_time_zone,
    domain::{
        money::Fen,
        text::{clean_line, clean_text},
    },
    error::AppError,
};
use serde::{Deserialize, Serialize};

/// A session's discount policy as the studio edits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyForm {
    pub percent_off: i64,
    pub friends_needed: i64,
    pub units_per_shopper: i64,
    /// Discounted units per product across all shoppers; `None` = unlimited.
    pub units_cap: Option<i64>,
    pub purchase_limit: i64,
    /// The discount needs a verified mobile number (the shopper's and each counted friend's).
    /// Absent in a request = off, so older clients keep working; the studio's new-session
    /// form starts with it on ([`PolicyForm::default`]).
    #[serde(default)]
    pub verified_phone_required: bool,
}

impl Default for PolicyForm {
    fn default() -> Self {
        PolicyForm {
            percent_off: 50,
            friends_needed: 1,
            units_per_shopper: 1,
            units_cap: None,
            purchase_limit: 5,
            verified_phone_required: true,
        }
    }
}

/// Create or edit a session (before it goes live).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionForm {
    pub title: String,
    pub description: String,
    /// Unix epoch milliseconds.
    pub scheduled_start_ms: i64,
    pub policy: PolicyForm,
    /// IANA time zone the session's times are shown in (default Asia/Shanghai).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

/// Create or edit a product. The price is typed in yuan ("129.90") and parsed by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductForm {
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: String,
    pub stock: i64,
    /// Required to change the price of a product that was already presented (audited).
    pub reason: Option<String>,
    /// The stock the edit form was opened with. When given, the edit applies the difference
    /// (`stock - stock_was`) to the current stock instead of overwriting it, so units sold
    /// while the host was typing are not put back on sale.
    #[serde(default)]
    pub stock_was: Option<i64>,
}

/// A session form whose text is cleaned (`domain::text`) and whose times and policy are checked.
pub struct SessionInput {
    pub title: String,
    pub description: String,
    pub scheduled_start_ms: i64,
}

impl SessionInput {
    /// Cleans and checks a studio session form (`now_ms`: start times are checked against it).
    pub fn parse(form: &SessionForm, now_ms: i64) -> Result<SessionInput, AppError> {
        let title = clean_line(&form.title, 80).map_err(|_| {
            AppError::bad_request("Give the session a title of 1 to 80 characters.")
        })?;
        let description = clean_text(&form.description, 2000).map_err(|_| {
            AppError::bad_request("The description can be at most 2000 characters.")
        })?;
        if form.scheduled_start_ms < now_ms - 60_000 {
            return Err(AppError::bad_request("The start time is in the past."));
        }
        if form.scheduled_start_ms > now_ms + 366 * 24 * 3600 * 1000 {
            return Err(AppError::bad_request(
                "The start time is more than a year away.",
            ));
        }
        check_policy(&form.policy)?;
        Ok(SessionInput {
            title,
            description,
            scheduled_start_ms: form.scheduled_start_ms,
        })
    }
}

/// A discount policy within its bounds.
pub fn check_policy(p: &PolicyForm) -> Result<(), AppError> {
    if !(1..=100).contains(&p.percent_off) {
        return Err(AppError::bad_request(
            "The discount must be between 1% and 100%.",
        ));
    }
    if !(1..=100).contains(&p.friends_needed) {
        return Err(AppError::bad_request(
            "Friends needed must be between 1 and 100.",
        ));
    }
    if !(0..=100).contains(&p.units_per_shopper) {
        return Err(AppError::bad_request(
            "Discounted units per shopper must be between 0 and 100.",
        ));
    }
    if p.units_cap.is_some_and(|c| !(0..=1_000_000).contains(&c)) {
        return Err(AppError::bad_request(
            "The discounted-unit cap must be between 0 and 1,000,000.",
        ));
    }
    if !(1..=99).contains(&p.purchase_limit) {
        return Err(AppError::bad_request(
            "The purchase limit must be between 1 and 99.",
        ));
    }
    Ok(())
}

/// A product form with its text cleaned and its price parsed.
pub struct ProductInput {
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: Fen,
    pub stock: i64,
}

impl ProductInput {
    pub fn parse(form: &ProductForm) -> Result<ProductInput, AppError> {
        let name = clean_line(&form.name, 80)
            .map_err(|_| AppError::bad_request("Give the product a name of 1 to 80 characters."))?;
        let category = clean_line(&form.category, 40).map_err(|_| {
            AppError::bad_request("Give the product a category of 1 to 40 characters.")
        })?;
        let description = clean_text(&form.description, 1000).map_err(|_| {
            AppError::bad_request("The description can be at most 1000 characters.")
        })?;
        let price =
            Fen::parse_yuan(&form.price).map_err(|e| AppError::bad_request(e.to_string()))?;
        if !(0..=1_000_000).contains(&form.stock) {
            return Err(AppError::bad_request(
                "Stock must be between 0 and 1,000,000.",
            ));
        }
        Ok(ProductInput {
            name,
            description,
            category,
            price,
            stock: form.stock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(title: &str, start: i64) -> SessionForm {
        SessionForm {
            time_zone: crate::domain::time::DEFAULT_TIME_ZONE.into(),
            title: title.into(),
            description: " A live session \r\n".into(),
            scheduled_start_ms: start,
            policy: PolicyForm::default(),
        }
    }

    #[test]
    fn session_forms_are_cleaned_and_checked() {
        let now = 1_800_000_000_000;
        let s = SessionInput::parse(&form(" Spring\u{202E} sale ", now + 3_600_000), now)
            .expect("valid");
        assert_eq!(
            (s.title.as_str(), s.description.as_str()),
            ("Spring sale", "A live session")
        );
        assert!(SessionInput::parse(&form("", now + 1), now).is_err());
        assert!(
            SessionInput::parse(&form("x", now - 3_600_000), now).is_err(),
            "in the past"
        );
        assert!(
            SessionInput::parse(&form("x", now + 400 * 86_400_000), now).is_err(),
            "too far"
        );
        let mut f = form("x", now + 1);
        f.policy.purchase_limit = 0;
        assert!(SessionInput::parse(&f, now).is_err());
    }

    #[test]
    fn product_forms_parse_the_price() {
        let f = ProductForm {
            name: "Serum".into(),
            description: String::new(),
            category: "Skincare".into(),
            price: "¥129.90".into(),
            stock: 10,
            reason: None,
            stock_was: None,
        };
        assert_eq!(ProductInput::parse(&f).expect("valid").price, Fen(12_990));
        assert!(ProductInput::parse(&ProductForm {
            price: "free".into(),
            ..f.clone()
        })
        .is_err());
        assert!(ProductInput::parse(&ProductForm { stock: -1, ..f }).is_err());
    }
}
