//! Shipping an order: the carrier and tracking number a host enters (one by one or from a
//! CSV file), checked before anything is stored.

use crate::domain::text::clean_line;
use crate::ids::OrderId;

/// A parcel's carrier and tracking number, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    /// "SF Express", "顺丰速运", "JD Logistics"...: one line, 1 to 40 characters.
    pub carrier: String,
    /// 4 to 40 letters, digits or dashes, upper-cased (carriers print them so).
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingError {
    Carrier,
    Number,
}

impl std::fmt::Display for TrackingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrackingError::Carrier => "Enter the carrier (up to 40 characters).",
            TrackingError::Number => "The tracking number is 4 to 40 letters, digits or dashes.",
        })
    }
}

impl Tracking {
    pub fn parse(carrier: &str, number: &str) -> Result<Tracking, TrackingError> {
        let carrier = clean_line(carrier, 40).map_err(|_| TrackingError::Carrier)?;
        let number = number.trim();
        let ok = (4..=40).contains(&number.chars().count())
            && number
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(TrackingError::Number);
        }
        Ok(Tracking {
            carrier,
            number: number.to_ascii_uppercase(),
        })
    }
}

/// One line of a tracking-number import: `order_id,carrier,tracking_number` (a header line
/// naming the columns is skipped by the caller). Fields may be quoted; a carrier may hold a
/// comma inside quotes.
pub fn parse_import_line(line: &str) -> Result<(OrderId, Tracking), String> {
    let fields = split_csv_line(line);
    let [order, carrier, number] = fields.as_slice() else {
        return Err("expected order_id,carrier,tracking_number".into());
    };
    let order_id: i64 = order
        .trim()
        .trim_start_matches('#')
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("{order:?} is not an order number"))?;
    let tracking = Tracking::parse(carrier, number).map_err(|e| e.to_string())?;
    Ok((OrderId(order_id), tracking))
}

/// Splits one CSV line (RFC 4180 quoting: `"a,b"`, `"say ""hi"""`).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

/// True for a header line (`order_id,carrier,...`) rather than data.
pub fn is_import_header(line: &str) -> bool {
    line.trim_start().to_ascii_lowercase().starts_with("order")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tracking_numbers_are_checked_and_upper_cased() {
        let t = Tracking::parse(" SF Express ", "sf1234567890").unwrap();
        assert_eq!(
            (t.carrier.as_str(), t.number.as_str()),
            ("SF Express", "SF1234567890")
        );
        assert_eq!(
            Tracking::parse("顺丰速运", "JD-0001").unwrap().carrier,
            "顺丰速运"
        );
        assert_eq!(Tracking::parse("", "SF1234"), Err(TrackingError::Carrier));
        assert_eq!(
            Tracking::parse(&"x".repeat(41), "SF1234"),
            Err(TrackingError::Carrier)
        );
        for bad in ["", "123", "SF 1234", "<script>", &"1".repeat(41)] {
            assert_eq!(
                Tracking::parse("SF", bad),
                Err(TrackingError::Number),
                "{bad}"
            );
        }
    }

    #[test]
    fn import_lines_are_read_with_quotes() {
        assert_eq!(
            parse_import_line("12,SF Express,SF1234567890").unwrap(),
            (
                OrderId(12),
                Tracking {
                    carrier: "SF Express".into(),
                    number: "SF1234567890".into()
                }
            )
        );
        let (id, t) = parse_import_line("#13,\"Carrier, Inc\",ab-99\r\n").unwrap();
        assert_eq!(
            (id, t.carrier.as_str(), t.number.as_str()),
            (OrderId(13), "Carrier, Inc", "AB-99")
        );
        assert!(parse_import_line("x,SF,SF1234").is_err());
        assert!(parse_import_line("0,SF,SF1234").is_err());
        assert!(parse_import_line("12,SF").is_err());
        assert!(parse_import_line("12,SF,SF1234,extra").is_err());
        assert!(is_import_header("order_id,carrier,tracking_number"));
        assert!(!is_import_header("12,SF,SF1234"));
    }

    proptest! {
        #[test]
        fn any_line_is_read_or_refused_without_a_panic(line in "\\PC{0,120}") {
            let _ = parse_import_line(&line);
        }
    }
}
