//! The open API's body rules (SPEC §3): one JSON object, UTF-8, no duplicate member names at any
//! depth (what was signed must have one meaning), unknown members ignored. Numbers are kept as
//! their exact text so that money never passes through a float.

use crate::{ApiError, Fen};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::fmt;

/// A parsed top-level JSON object whose members keep their raw text.
pub struct JsonObject<'a> {
    members: Vec<(String, &'a RawValue)>,
}

/// Parses a request body: UTF-8, a single object, no duplicate names anywhere.
pub fn parse_object(body: &[u8]) -> Result<JsonObject<'_>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::field("body", "must be UTF-8"))?;
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let members = TopLevel.deserialize(&mut de).map_err(|e| json_error(&e))?;
    de.end().map_err(|e| json_error(&e))?;
    for (_, raw) in &members {
        check_nested(raw.get())?;
    }
    Ok(JsonObject { members })
}

fn json_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    if let Some(name) = msg.strip_prefix("duplicate member ") {
        let name = name.split(" at line").next().unwrap_or(name);
        return ApiError::field(name, "appears more than once in the body");
    }
    ApiError::field(
        "body",
        format_args!(
            "is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    )
}

fn check_nested(raw: &str) -> Result<(), ApiError> {
    if raw.starts_with('{') || raw.starts_with('[') {
        let mut de = serde_json::Deserializer::from_str(raw);
        NoDuplicates
            .deserialize(&mut de)
            .map_err(|e| json_error(&e))?;
    }
    Ok(())
}

struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = Vec<(String, &'de RawValue)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Vec<(String, &'de RawValue)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(String, &'de RawValue)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            // A set, not a scan of what came before: thousands of members cost linear time.
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format_args!("duplicate member {k}")));
            }
            let v: &'de RawValue = map.next_value()?;
            out.push((k, v));
        }
        Ok(out)
    }
}

/// Walks any JSON value and fails on the first object with a repeated member name.
struct NoDuplicates;

impl<'de> DeserializeSeed<'de> for NoDuplicates {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicates {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicates)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format_args!("duplicate member {k}")));
            }
            map.next_value_seed(NoDuplicates)?;
        }
        Ok(())
    }
}

impl<'a> JsonObject<'a> {
    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    }

    /// A string member; absent, null or empty is `None`.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => {
                let s: String = serde_json::from_str(v.get())
                    .map_err(|_| ApiError::field(name, "must be a string"))?;
                Ok(if s.is_empty() { None } else { Some(s) })
            }
        }
    }

    pub fn req_str(&self, name: &str) -> Result<String, ApiError> {
        self.opt_str(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// A positive amount in yuan (a JSON number, at most two decimals) as fen.
    pub fn opt_money(&self, name: &str) -> Result<Option<Fen>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => {
                let t = v.get();
                if !(t.starts_with('-') || t.starts_with(|c: char| c.is_ascii_digit())) {
                    return Err(ApiError::field(name, "must be a number in yuan"));
                }
                Fen::parse_positive_yuan(t)
                    .map(Some)
                    .map_err(|e| ApiError::field(name, e))
            }
        }
    }

    /// As `opt_money`, and zero is allowed (credit lines).
    pub fn opt_nonneg_money(&self, name: &str) -> Result<Option<Fen>, ApiError> {
        match self.raw(name) {
            Some(v)
                if v.get()
                    .trim_start_matches('-')
                    .trim_start_matches(['0', '.'])
                    .is_empty() =>
            {
                Ok(Some(Fen::ZERO))
            }
            _ => self.opt_money(name),
        }
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name).map(|v| v.get()) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::field(name, "must be true or false")),
        }
    }

    /// A list of strings.
    pub fn opt_str_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => serde_json::from_str(v.get())
                .map(Some)
                .map_err(|_| ApiError::field(name, "must be a list of strings")),
        }
    }

    /// A list of objects (their members' errors are the caller's to name: `ApiError::within`).
    pub fn opt_object_list(&self, name: &str) -> Result<Option<Vec<JsonObject<'a>>>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let bad = || ApiError::field(name, "must be a list of objects");
        let items: Vec<&'a RawValue> = serde_json::from_str(v.get()).map_err(|_| bad())?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if !item.get().starts_with('{') {
                return Err(bad());
            }
            let mut de = serde_json::Deserializer::from_str(item.get());
            let members = TopLevel.deserialize(&mut de).map_err(|_| bad())?;
            out.push(JsonObject { members });
        }
        Ok(Some(out))
    }

    pub fn req_money(&self, name: &str) -> Result<Fen, ApiError> {
        self.opt_money(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// An integer member (for the Rabbitpre endpoint's fen amounts and ids).
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => v
                .get()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::field(name, "must be an integer")),
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members() {
        let o =
            parse_object(br#"{"a":"x","spec":1.50,"n":null,"e":"","extra":{"z":[1,2]}}"#).unwrap();
        assert_eq!(o.req_str("a").unwrap(), "x");
        assert_eq!(o.req_money("spec").unwrap(), Fen(150));
        assert_eq!(o.opt_str("n").unwrap(), None);
        assert_eq!(o.opt_str("e").unwrap(), None);
        assert_eq!(
            o.req_str("missing").unwrap_err().message,
            "missing is required"
        );
        assert_eq!(
            o.req_str("spec").unwrap_err().message,
            "spec must be a string"
        );
    }

    #[test]
    fn refuses_duplicates_at_any_depth() {
        let e = parse_object(br#"{"a":"1","a":"2"}"#).err().unwrap();
        assert_eq!(e.message, "a appears more than once in the body");
        let e = parse_object(br#"{"a":{"b":1,"b":2}}"#).err().unwrap();
        assert!(e.message.starts_with("b appears"), "{}", e.message);
        let e = parse_object(br#"{"a":[{"c":1,"c":1}]}"#).err().unwrap();
        assert!(e.message.starts_with("c appears"));
        // An escaped name is the same name.
        assert!(parse_object(br#"{"a":"1","\u0061":"2"}"#).is_err());
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for body in [
            &b"[1]"[..],
            b"\"x\"",
            b"{",
            b"{} {}",
            b"{\"a\":1,}",
            b"\xff\xfe",
        ] {
            let e = parse_object(body).err().unwrap();
            assert!(e.message.starts_with("body "), "{:?}", e.message);
        }
    }

    #[test]
    fn money_must_be_a_number() {
        let o = parse_object(br#"{"s":"1.5","t":true,"u":1.234,"v":0,"w":-2}"#).unwrap();
        assert_eq!(
            o.req_money("s").unwrap_err().message,
            "s must be a number in yuan"
        );
        assert_eq!(
            o.req_money("t").unwrap_err().message,
            "t must be a number in yuan"
        );
        assert_eq!(
            o.req_money("u").unwrap_err().message,
            "u must have at most 2 decimals"
        );
        assert_eq!(
            o.req_money("v").unwrap_err().message,
            "v must be greater than 0"
        );
        assert_eq!(
            o.req_money("w").unwrap_err().message,
            "w must be greater than 0"
        );
    }
}
