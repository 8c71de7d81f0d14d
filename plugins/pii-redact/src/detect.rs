//! Finding personal data inside strings: e-mail addresses, payment card
//! numbers (13 to 19 digits, spaces or dashes between, that pass the Luhn
//! check), IBANs (that pass the ISO 13616 mod-97 check), and the route's
//! own regexes. The numeric detectors check before they mask, so an order
//! number or a timestamp that merely looks like one stays.

use regex_lite::Regex;

/// A kind of personal data.
#[derive(Debug)]
pub struct Detector {
    /// Its name, in the config and the log.
    pub name: String,
    pattern: Regex,
    check: fn(&str) -> bool,
}

impl Detector {
    /// The built-in detector `name`, if there is one.
    pub fn builtin(name: &str) -> Option<Detector> {
        let (pattern, check): (&str, fn(&str) -> bool) = match name {
            "email" => (
                r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
                |_| true,
            ),
            "card" => (r"\b\d(?:[ -]?\d){12,18}\b", luhn),
            "iban" => (r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", iban),
            _ => return None,
        };
        Some(Detector {
            name: name.to_owned(),
            pattern: Regex::new(pattern).ok()?,
            check,
        })
    }

    /// A configured pattern.
    pub fn custom(name: &str, pattern: &str) -> Result<Detector, String> {
        Ok(Detector {
            name: name.to_owned(),
            pattern: Regex::new(pattern).map_err(|e| e.to_string())?,
            check: |_| true,
        })
    }

    /// `text` with every match that passes the check replaced by `mask`;
    /// `None` when nothing matched.
    pub fn redact(&self, text: &str, mask: &str) -> Option<String> {
        let mut out = String::new();
        let mut last = 0;
        for found in self.pattern.find_iter(text) {
            if found.as_str().is_empty() || !(self.check)(found.as_str()) {
                continue;
            }
            out.push_str(&text[last..found.start()]);
            out.push_str(mask);
            last = found.end();
        }
        if last == 0 {
            return None;
        }
        out.push_str(&text[last..]);
        Some(out)
    }
}

/// The Luhn check over the digits of `text`.
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if !i.is_multiple_of(2) {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The IBAN check: the first four characters moved to the end, letters as
/// numbers (A = 10), the whole number mod 97 is 1.
pub fn iban(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_tell_real_numbers_from_look_alikes() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("5500-0000-0000-0004"));
        assert!(!luhn("4111 1111 1111 1112"), "fails Luhn");
        assert!(!luhn("1234567890123456"), "a 16-digit order number");
        assert!(iban("DE89 3704 0044 0532 0130 00"));
        assert!(iban("GB82WEST12345698765432"));
        assert!(!iban("GB82WEST12345698765433"));
    }

    #[test]
    fn detectors_mask_inside_text_and_leave_the_rest() {
        let email = Detector::builtin("email").expect("email");
        assert_eq!(
            email
                .redact("mail ann.lee+x@mail.example.org today", "***")
                .as_deref(),
            Some("mail *** today")
        );
        assert_eq!(email.redact("no address here", "***"), None);
        let card = Detector::builtin("card").expect("card");
        assert_eq!(
            card.redact("card 4111 1111 1111 1111, order 1234567890123456", "***")
                .as_deref(),
            Some("card ***, order 1234567890123456")
        );
        let iban = Detector::builtin("iban").expect("iban");
        assert_eq!(
            iban.redact("to DE89 3704 0044 0532 0130 00.", "***")
                .as_deref(),
            Some("to ***.")
        );
    }
}
