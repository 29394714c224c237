//! Mobile numbers, parsed into E.164 (`+8613812345678`) and shown masked. Mainland China first:
//! an 11-digit number starting with 1 and a second digit 3-9 is read as +86; other countries
//! need their `+` (or `00`) prefix. Pure: the server stores and compares only the E.164 form.

use std::fmt;

/// A mobile number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Why typed text is not a mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    Malformed,
    /// +86 numbers must be mainland mobile numbers (11 digits, 13x-19x).
    NotMobile,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhoneError::Empty => "Enter your mobile number.",
            PhoneError::Malformed => {
                "Enter a mobile number like 138 1234 5678, or with its country code like +44 7700 900123."
            }
            PhoneError::NotMobile => "That is not a mainland China mobile number (11 digits starting with 13-19).",
        })
    }
}

impl Phone {
    /// Parses what someone typed: spaces, dashes, dots and brackets are ignored; `00` works
    /// like `+`; an 11-digit mainland mobile number needs no prefix.
    pub fn parse(raw: &str) -> Result<Phone, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let mut digits = String::new();
        let mut plus = false;
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '+' | '＋' if i == 0 => plus = true,
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(PhoneError::Malformed),
            }
        }
        if !plus {
            if let Some(rest) = digits.strip_prefix("00") {
                digits = rest.to_string();
                plus = true;
            }
        }
        if !plus {
            // No country code: a mainland number (the product's home market).
            if is_mainland_mobile(&digits) {
                return Ok(Phone(format!("+86{digits}")));
            }
            return Err(PhoneError::Malformed);
        }
        if let Some(national) = digits.strip_prefix("86") {
            return if is_mainland_mobile(national) {
                Ok(Phone(format!("+86{national}")))
            } else {
                Err(PhoneError::NotMobile)
            };
        }
        // E.164: a country code not starting with 0, at most 15 digits in all.
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::Malformed);
        }
        Ok(Phone(format!("+{digits}")))
    }

    /// Restores a number the database holds (already E.164).
    pub fn from_stored(e164: String) -> Phone {
        Phone(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For screens and exports: the country code and the last four digits, e.g.
    /// `+86 138****5678` (mainland: the first three are kept, as Chinese apps show them).
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks an E.164 number (see [`Phone::masked`]).
pub fn mask(e164: &str) -> String {
    let digits = e164.trim_start_matches('+');
    if let Some(national) = digits.strip_prefix("86") {
        if national.len() == 11 {
            return format!("+86 {}****{}", &national[..3], &national[7..]);
        }
    }
    let n = digits.len();
    if n < 8 {
        return "****".to_string();
    }
    // Country codes are 1 to 3 digits; without a table, keep the first 2 and the last 4.
    format!("+{} ****{}", &digits[..2], &digits[n - 4..])
}

fn is_mainland_mobile(d: &str) -> bool {
    d.len() == 11
        && d.starts_with('1')
        && matches!(d.as_bytes()[1], b'3'..=b'9')
        && d.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_numbers_need_no_prefix() {
        for raw in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "0086 13812345678",
            "+8613812345678",
            "＋86 13812345678",
        ] {
            assert_eq!(
                Phone::parse(raw).expect(raw).as_str(),
                "+8613812345678",
                "{raw}"
            );
        }
    }

    #[test]
    fn other_countries_need_their_code() {
        assert_eq!(
            Phone::parse("+44 7700 900123").expect("uk").as_str(),
            "+447700900123"
        );
        assert_eq!(
            Phone::parse("0039 347 123 4567").expect("it").as_str(),
            "+393471234567"
        );
        assert_eq!(Phone::parse("7700 900123"), Err(PhoneError::Malformed));
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse("abc"), Err(PhoneError::Malformed));
        assert_eq!(Phone::parse("+1234"), Err(PhoneError::Malformed));
        assert_eq!(
            Phone::parse("+1234567890123456"),
            Err(PhoneError::Malformed)
        );
        assert_eq!(Phone::parse("+86 12812345678"), Err(PhoneError::NotMobile));
        assert_eq!(
            Phone::parse("+86 010 1234 5678"),
            Err(PhoneError::NotMobile)
        );
        assert_eq!(Phone::parse("12812345678"), Err(PhoneError::Malformed));
        assert_eq!(Phone::parse("138+12345678"), Err(PhoneError::Malformed));
    }

    #[test]
    fn masks_keep_little() {
        assert_eq!(
            Phone::parse("13812345678").expect("cn").masked(),
            "+86 138****5678"
        );
        assert_eq!(
            Phone::parse("+447700900123").expect("uk").masked(),
            "+44 ****0123"
        );
    }
}
