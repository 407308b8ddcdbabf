//! Request parameters the Binance way: `application/x-www-form-urlencoded` pairs from the
//! query string and the body, the query's value winning when a name is in both.
//!
//! # Invariants
//! - A name twice in one source is -1101; an empty value counts as absent.
//! - Every parameter must be read by the handler: [`Params::finish`] answers -1104 for the
//!   rest, so a misspelt or unsupported option is an error, never silently ignored.

use rust_decimal::Decimal;

use super::errors::{BnError, BnResult};

/// Names every signed request may carry (read by authentication).
const AUTH: [&str; 3] = ["timestamp", "recvWindow", "signature"];

#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
    read: Vec<bool>,
}

impl Params {
    /// Parse `query` and `body`. Pairs of the body whose name the query also has are dropped.
    pub fn parse(query: &str, body: &[u8]) -> BnResult<Params> {
        let mut pairs = pairs(query.as_bytes())?;
        let from_query = pairs.len();
        for (k, v) in self::pairs(body)? {
            if !pairs[..from_query].iter().any(|(n, _)| *n == k) {
                pairs.push((k, v));
            }
        }
        let read = vec![false; pairs.len()];
        Ok(Params { pairs, read })
    }

    /// One item of a batch (`batchOrders=[{...}]`): a JSON object's members as text.
    pub fn from_json(item: &serde_json::Value) -> BnResult<Params> {
        let obj = item
            .as_object()
            .ok_or_else(|| BnError::malformed("batchOrders", "each item must be an object"))?;
        let mut p = Params::default();
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => String::new(),
                _ => {
                    return Err(BnError::malformed(
                        k,
                        "expected a string, number or boolean",
                    ))
                }
            };
            p.pairs.push((k.clone(), text));
            p.read.push(false);
        }
        Ok(p)
    }

    fn find(&mut self, name: &str) -> Option<usize> {
        let i = self.pairs.iter().position(|(k, _)| k == name)?;
        self.read[i] = true;
        (!self.pairs[i].1.is_empty()).then_some(i)
    }

    /// An optional parameter.
    pub fn opt(&mut self, name: &str) -> Option<String> {
        self.text(name).map(str::to_owned)
    }

    /// An optional parameter, borrowed (for values parsed at once: no copy).
    fn text(&mut self, name: &str) -> Option<&str> {
        self.find(name).map(|i| self.pairs[i].1.as_str())
    }

    /// A mandatory parameter (-1102 when missing or empty).
    pub fn req(&mut self, name: &str) -> BnResult<String> {
        self.opt(name).ok_or_else(|| BnError::mandatory(name))
    }

    /// An optional unsigned integer.
    pub fn u64(&mut self, name: &str) -> BnResult<Option<u64>> {
        self.text(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| BnError::malformed(name, "expected a non-negative integer"))
            })
            .transpose()
    }

    /// An optional `limit`-like integer: `default` when absent, else within `1..=max`.
    pub fn limit(&mut self, name: &str, default: usize, max: usize) -> BnResult<usize> {
        match self.u64(name)? {
            None => Ok(default),
            Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
            Some(_) => Err(BnError::bad(
                -1130,
                format!("Data sent for parameter '{name}' is not valid: 1..{max}."),
            )),
        }
    }

    /// An optional boolean, `true`/`false` in any case.
    pub fn bool(&mut self, name: &str) -> BnResult<Option<bool>> {
        self.text(name)
            .map(|v| {
                if v.eq_ignore_ascii_case("true") {
                    Ok(true)
                } else if v.eq_ignore_ascii_case("false") {
                    Ok(false)
                } else {
                    Err(BnError::malformed(name, "expected true or false"))
                }
            })
            .transpose()
    }

    /// An optional decimal (the exact text; precision is checked by the caller).
    pub fn decimal(&mut self, name: &str) -> BnResult<Option<Decimal>> {
        self.text(name)
            .map(|v| {
                v.parse::<Decimal>()
                    .map_err(|_| BnError::malformed(name, "expected a decimal number"))
            })
            .transpose()
    }

    /// Mark names as read without looking at them (parameters with one accepted value that
    /// the caller checked, or authentication's own).
    pub fn skip(&mut self, names: &[&str]) {
        for (i, (k, _)) in self.pairs.iter().enumerate() {
            if names.contains(&k.as_str()) {
                self.read[i] = true;
            }
        }
    }

    /// -1104 if any parameter was not read.
    pub fn finish(mut self) -> BnResult<()> {
        self.skip(&AUTH);
        let unread: Vec<&str> = self
            .pairs
            .iter()
            .zip(&self.read)
            .filter(|(_, r)| !**r)
            .map(|((k, _), _)| k.as_str())
            .collect();
        if unread.is_empty() {
            return Ok(());
        }
        Err(BnError::bad(
            -1104,
            format!(
                "Not all sent parameters were read; read {} parameter(s) but was sent {}: not supported here: {}.",
                self.pairs.len() - unread.len(),
                self.pairs.len(),
                unread.join(", ")
            ),
        ))
    }
}

fn pairs(raw: &[u8]) -> BnResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw) {
        if out.iter().any(|(n, _)| *n == k) {
            return Err(BnError::bad(
                -1101,
                format!("Duplicate values for parameter '{k}'."),
            ));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_and_unread_is_an_error() {
        let mut p = Params::parse("symbol=BTCUSDT&side=BUY", b"side=SELL&quantity=1").unwrap();
        assert_eq!(p.req("side").unwrap(), "BUY");
        assert_eq!(p.req("symbol").unwrap(), "BTCUSDT");
        assert_eq!(p.clone().finish().unwrap_err().code, -1104);
        assert_eq!(p.decimal("quantity").unwrap(), Some(Decimal::ONE));
        p.finish().unwrap();
    }

    #[test]
    fn duplicates_empty_values_and_limits() {
        assert_eq!(Params::parse("a=1&a=2", b"").unwrap_err().code, -1101);
        let mut p = Params::parse("a=&limit=0&b=x&c=TRUE", b"").unwrap();
        assert_eq!(p.opt("a"), None);
        assert_eq!(p.req("a").unwrap_err().code, -1102);
        assert_eq!(p.limit("limit", 5, 10).unwrap_err().code, -1130);
        assert_eq!(p.u64("b").unwrap_err().code, -1102);
        assert_eq!(p.bool("c").unwrap(), Some(true));
        assert_eq!(p.limit("absent", 5, 10).unwrap(), 5);
    }
}
