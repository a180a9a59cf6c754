//! A JSON value borrowing its strings from the input, for a token's header and claims.
//!
//! The verifier reads a dozen claims once each; building a `serde_json::Value` tree (a
//! `String` per key and value, a `BTreeMap` per object) cost more than a third of a full
//! verification. [`parse`] keeps strings without escapes as slices of the decoded payload,
//! objects as vectors in document order, and refuses duplicate keys exactly as
//! [`strict_json`](crate::strict_json) does (escaped spellings included: `"\u0061lg"` is
//! `alg`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::strict_json::StrictJsonError;

/// A JSON value whose strings borrow from the input where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as serde_json reads it.
    Number(serde_json::Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// A JSON object: its members in document order, no key twice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a> {
    members: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.members
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Keys in document order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_ref())
    }
}

impl<'a> Json<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// An owned `serde_json::Value` (for messages; never on the success path).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.to_string()),
            Json::Array(items) => {
                serde_json::Value::Array(items.iter().map(Json::to_value).collect())
            }
            Json::Object(o) => serde_json::Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Length of the value's JSON text, computed without serializing (strings count their
    /// raw bytes; numbers, booleans and null at most 24).
    pub fn json_len(&self) -> usize {
        match self {
            Json::String(s) => s.len(),
            Json::Array(items) => items.iter().map(|v| v.json_len() + 3).sum::<usize>() + 2,
            Json::Object(o) => {
                o.iter()
                    .map(|(k, v)| k.len() + v.json_len() + 4)
                    .sum::<usize>()
                    + 2
            }
            _ => 24,
        }
    }
}

/// The value as JSON text.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_value(), f)
    }
}

/// Parses `input`, refusing duplicate keys at any depth and trailing garbage.
pub fn parse(input: &[u8]) -> Result<Json<'_>, StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let value = ValueSeed
        .deserialize(&mut de)
        .map_err(|e| crate::strict_json::classify(&e))?;
    de.end()
        .map_err(|e| StrictJsonError::Syntax(e.to_string()))?;
    Ok(value)
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Json<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::with_capacity(16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // Small objects (every real token) are checked as they are read; larger ones
            // once, sorted, below, so a hostile object cannot make this quadratic.
            if members.len() < SMALL && members.iter().any(|(k, _)| *k == key) {
                return Err(duplicate(&key));
            }
            let value = map.next_value_seed(ValueSeed)?;
            members.push((key, value));
        }
        if members.len() > SMALL {
            let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
            keys.sort_unstable();
            if let Some(pair) = keys.windows(2).find(|w| w.first() == w.get(1)) {
                return Err(duplicate(pair.first().copied().unwrap_or_default()));
            }
        }
        Ok(Json::Object(Object { members }))
    }
}

/// Objects up to this many members are checked for duplicates member by member.
const SMALL: usize = 32;

fn duplicate<E: de::Error>(key: &str) -> E {
    crate::strict_json::duplicate_error(key)
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let input = br#"{"iss":"https://gitlab.com","n":[1,2.5,true,null],"e":"a\"b"}"#;
        let Ok(Json::Object(o)) = parse(input) else {
            panic!("object expected");
        };
        assert!(matches!(
            o.get("iss"),
            Some(Json::String(Cow::Borrowed("https://gitlab.com")))
        ));
        assert!(matches!(o.get("e"), Some(Json::String(Cow::Owned(s))) if s == "a\"b"));
        assert_eq!(
            o.get("n").map(Json::to_value),
            Some(serde_json::json!([1, 2.5, true, null]))
        );
        assert_eq!(o.keys().collect::<Vec<_>>(), ["iss", "n", "e"]);
    }

    #[test]
    fn duplicates_are_refused_like_strict_json() {
        for input in [
            r#"{"aud":"a","aud":"b"}"#,
            r#"{"x":[{"k":1,"k":2}]}"#,
            r#"{"alg":"RS256","\u0061lg":"none"}"#,
        ] {
            assert_eq!(
                parse(input.as_bytes()).map(|_| ()),
                crate::strict_json::parse(input.as_bytes()).map(|_| ()),
                "{input}"
            );
            assert!(matches!(
                parse(input.as_bytes()),
                Err(StrictJsonError::DuplicateKey(_))
            ));
        }
        // A large object with its duplicate far apart.
        let mut big: Vec<String> = (0..200).map(|i| format!("\"k{i}\":{i}")).collect();
        big.push("\"k7\":0".into());
        let text = format!("{{{}}}", big.join(","));
        assert_eq!(
            parse(text.as_bytes()).map(|_| ()),
            Err(StrictJsonError::DuplicateKey("k7".into()))
        );
    }

    #[test]
    fn syntax_errors_trailing_garbage_and_deep_nesting_are_refused() {
        for bad in [&b"{} x"[..], b"{", b"", &b"[".repeat(100_000)] {
            assert!(matches!(parse(bad), Err(StrictJsonError::Syntax(_))));
        }
    }
}
