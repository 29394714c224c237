//! The studio's forms, parsed ("parse, don't validate"): a `SessionInput` or `ProductInput`
//! exists only with clean text (`domain::text`), a start time in range, a policy within its
//! bounds and a parsed price. Pure.

use crate::{
    domain::{
        money::Fen,
        text::{clean_line, clean_text},
    },
    error::AppError,
    model::{PolicyForm, ProductForm, SessionForm},
};

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
