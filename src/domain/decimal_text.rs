//! The wire form of a positive decimal (prices, quantities, money amounts): one grammar, checked
//! here for every request and published as the same regular expression in the OpenAPI document,
//! so a value the document allows is one the server parses, and the other way round.
//!
//! Grammar: an integer part (`0`, or up to `int_digits` digits not starting with `0`),
//! optionally a point and 1 to `frac_digits` digits; the value is above zero. No sign, exponent,
//! spaces, separators or leading zeros.
//!
//! # Invariants
//! - `int_digits + frac_digits ≤ 28`: every accepted text is exactly a `Decimal` (no rounding
//!   on parse), and far inside its range, so the sums and products made from it cannot
//!   overflow (prices below 10^12, quantities below 10^15 and, with the lot rule of the config,
//!   below 2^47 lots).
//! - [`DecimalText::check`] and [`DecimalText::pattern`] accept exactly the same strings
//!   (tested against the `regex` crate below).

use rust_decimal::Decimal;

use super::reject::NumberFaultKind;

/// The shape of one kind of positive decimal on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecimalText {
    pub int_digits: u32,
    pub frac_digits: u32,
}

/// Order, trigger and index prices.
pub const PRICE: DecimalText = DecimalText {
    int_digits: 12,
    frac_digits: 16,
};

/// Order quantities.
pub const QUANTITY: DecimalText = DecimalText {
    int_digits: 15,
    frac_digits: 13,
};

/// Money amounts (deposits, withdrawals): below 10^15, at most `scale` decimals.
pub fn money(scale: u32) -> DecimalText {
    DecimalText {
        int_digits: 15.min(28 - scale.min(13)),
        frac_digits: scale.min(13),
    }
}

impl DecimalText {
    /// Whether `s` is a positive decimal of this shape.
    pub fn check(&self, s: &str) -> bool {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return false;
        }
        if int.len() > self.int_digits as usize {
            return false;
        }
        if let Some(f) = frac {
            if !digits(f) || f.len() > self.frac_digits as usize {
                return false;
            }
        }
        s.bytes().any(|b| (b'1'..=b'9').contains(&b))
    }

    /// `s` as a decimal if it is a positive decimal of this shape; otherwise which part of
    /// the shape it breaks (a zero value, a sign or a leading zero is `Malformed`).
    pub fn lex(&self, s: &str) -> Result<Decimal, NumberFaultKind> {
        if self.check(s) {
            return s.parse().map_err(|_| NumberFaultKind::Malformed);
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let well_formed = digits(int)
            && !(int.len() > 1 && int.starts_with('0'))
            && (!s.contains('.') || digits(frac))
            && s.bytes().any(|b| (b'1'..=b'9').contains(&b));
        Err(match () {
            _ if !well_formed => NumberFaultKind::Malformed,
            _ if int.len() > self.int_digits as usize => NumberFaultKind::IntegerTooLong,
            _ => NumberFaultKind::FractionTooLong,
        })
    }

    /// The same language as an ECMA/Python/Rust regular expression (anchored).
    pub fn pattern(&self) -> String {
        let (i, f) = (self.int_digits, self.frac_digits);
        let mut p = format!("^(?:[1-9][0-9]{{0,{}}}", i.saturating_sub(1));
        if f > 0 {
            p.push_str(&format!("(?:\\.[0-9]{{1,{f}}})?|0\\.(?:"));
            // `0.` then `k` zeros, a non-zero digit and at most `f - 1 - k` more digits.
            let alternatives: Vec<String> = (0..f)
                .map(|k| {
                    let zeros = if k == 0 {
                        String::new()
                    } else {
                        format!("0{{{k}}}")
                    };
                    let rest = f - 1 - k;
                    let tail = if rest == 0 {
                        String::new()
                    } else {
                        format!("[0-9]{{0,{rest}}}")
                    };
                    format!("{zeros}[1-9]{tail}")
                })
                .collect();
            p.push_str(&alternatives.join("|"));
            p.push(')');
        }
        p.push_str(")$");
        p
    }

    /// A one-line description for error messages and the OpenAPI document.
    pub fn describe(&self) -> String {
        format!(
            "a positive decimal string: at most {} integer digits (no leading zero) and {} decimals; no sign or exponent",
            self.int_digits, self.frac_digits
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_positive_decimals() {
        for s in [
            "1",
            "0.1",
            "50000",
            "50000.10",
            "0.0000000000000001",
            "999999999999",
        ] {
            assert!(PRICE.check(s), "{s}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for s in [
            "",
            "0",
            "0.0",
            "00.1",
            "01",
            "-1",
            "+1",
            "1.",
            ".5",
            "1e3",
            "1_000",
            " 1",
            "1 ",
            "0x10",
            "1,5",
            "NaN",
            "1000000000000",
            "0.00000000000000001",
            "١",
        ] {
            assert!(!PRICE.check(s), "{s:?}");
        }
        assert!(!money(0).check("1.0"));
        assert!(money(0).check("10"));
        assert!(!money(2).check("0.001"));
    }

    #[test]
    fn check_and_pattern_agree() {
        let shapes = [PRICE, QUANTITY, money(0), money(2), money(8)];
        let mut inputs = vec![];
        for int in [
            "",
            "0",
            "00",
            "1",
            "10",
            "999999999999",
            "1000000000000",
            "1234567890123456",
        ] {
            for frac in [
                None,
                Some(""),
                Some("0"),
                Some("5"),
                Some("05"),
                Some("00000001"),
                Some("0000000000000"),
                Some("0000000000001"),
                Some("00000000000000001"),
                Some("1234567890123456"),
            ] {
                inputs.push(match frac {
                    None => int.to_owned(),
                    Some(f) => format!("{int}.{f}"),
                });
            }
        }
        for shape in shapes {
            let re = regex::Regex::new(&shape.pattern()).unwrap();
            for s in &inputs {
                assert_eq!(shape.check(s), re.is_match(s), "{shape:?} {s:?}");
            }
        }
    }

    #[test]
    fn every_accepted_text_is_an_exact_decimal() {
        for s in ["999999999999.9999999999999999", "0.0000000000000001"] {
            assert!(PRICE.check(s));
            let d: rust_decimal::Decimal = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
    }
}
