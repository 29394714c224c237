//! Delivery addresses, mainland China format first: recipient, mobile number, province, city,
//! district and the street address. Checked here (pure) before anything is stored; an order
//! keeps a copy of the address it ships to, so editing the address book changes no order.

use serde::{Deserialize, Serialize};

use crate::domain::{phone::Phone, text::clean_line};

/// An address as a form sends it (and as the address book shows it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressForm {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub street: String,
}

/// A checked address: every field cleaned, the phone in E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub recipient: String,
    pub phone: Phone,
    pub province: String,
    pub city: String,
    pub district: String,
    pub street: String,
}

/// The first thing wrong with an address form, said for the field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn line(
    raw: &str,
    field: &'static str,
    min: usize,
    max: usize,
    what: &str,
) -> Result<String, AddressError> {
    let bad = || AddressError {
        field,
        message: format!("Enter {what} ({min} to {max} characters)."),
    };
    let v = clean_line(raw, max).map_err(|_| bad())?;
    if v.chars().count() < min {
        return Err(bad());
    }
    Ok(v)
}

impl Address {
    pub fn parse(f: &AddressForm) -> Result<Address, AddressError> {
        Ok(Address {
            recipient: line(&f.recipient, "recipient", 1, 20, "the recipient's name")?,
            phone: Phone::parse(&f.phone).map_err(|e| AddressError {
                field: "phone",
                message: e.to_string(),
            })?,
            province: line(&f.province, "province", 2, 20, "the province")?,
            city: line(&f.city, "city", 2, 20, "the city")?,
            district: line(&f.district, "district", 2, 20, "the district")?,
            street: line(&f.street, "street", 4, 120, "the street address")?,
        })
    }

    /// One line as Chinese addresses are written: province, city, district, street.
    pub fn one_line(&self) -> String {
        format!(
            "{}{}{}{}",
            self.province, self.city, self.district, self.street
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn form() -> AddressForm {
        AddressForm {
            recipient: "王小明".into(),
            phone: "138 1234 5678".into(),
            province: "广东省".into(),
            city: "深圳市".into(),
            district: "南山区".into(),
            street: "科技园南区深南大道10000号".into(),
        }
    }

    #[test]
    fn a_mainland_address_is_checked_and_cleaned() {
        let a = Address::parse(&form()).unwrap();
        assert_eq!(a.phone.as_str(), "+8613812345678");
        assert_eq!(a.one_line(), "广东省深圳市南山区科技园南区深南大道10000号");
        let mut f = form();
        f.street = "  Room 1201,\n Tower A  ".into();
        assert_eq!(Address::parse(&f).unwrap().street, "Room 1201, Tower A");
    }

    #[test]
    fn each_field_is_named_when_wrong() {
        for (field, set) in [
            (
                "recipient",
                Box::new(|f: &mut AddressForm| f.recipient = " ".into())
                    as Box<dyn Fn(&mut AddressForm)>,
            ),
            (
                "recipient",
                Box::new(|f: &mut AddressForm| f.recipient = "x".repeat(21)),
            ),
            (
                "phone",
                Box::new(|f: &mut AddressForm| f.phone = "12345".into()),
            ),
            (
                "province",
                Box::new(|f: &mut AddressForm| f.province = "粤".into()),
            ),
            (
                "city",
                Box::new(|f: &mut AddressForm| f.city = String::new()),
            ),
            (
                "district",
                Box::new(|f: &mut AddressForm| f.district = "d".repeat(30)),
            ),
            (
                "street",
                Box::new(|f: &mut AddressForm| f.street = "1号".into()),
            ),
        ] {
            let mut f = form();
            set(&mut f);
            assert_eq!(Address::parse(&f).unwrap_err().field, field);
        }
    }

    proptest! {
        #[test]
        fn any_form_is_checked_without_a_panic(
            recipient in "\\PC{0,30}", phone in "\\PC{0,20}", street in "\\PC{0,150}"
        ) {
            let f = AddressForm { recipient, phone, street, ..form() };
            let _ = Address::parse(&f);
        }
    }
}
