//! JSON parsing that refuses duplicate object keys.
//!
//! `serde_json` keeps the last of two equal keys without a word, so `{"aud":"a","aud":"b"}`
//! would mean different things to different parsers. Tokens and trust configs are parsed
//! here instead: any object holding the same key twice is an error naming the key.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a text is not strict JSON.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StrictJsonError {
    /// The same key appears twice in one object.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    /// Not JSON at all (message from the parser, with line and column).
    #[error("{0}")]
    Syntax(String),
}

/// Parses `input` as JSON, refusing duplicate keys at any depth.
pub fn parse(input: &[u8]) -> Result<Value, StrictJsonError> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let value = StrictValue.deserialize(&mut de).map_err(|e| classify(&e))?;
    de.end()
        .map_err(|e| StrictJsonError::Syntax(e.to_string()))?;
    Ok(value)
}

const DUPLICATE_MARKER: &str = "\u{0}duplicate key\u{0}";

pub(crate) fn classify(err: &serde_json::Error) -> StrictJsonError {
    let text = err.to_string();
    match text.strip_prefix(DUPLICATE_MARKER) {
        Some(rest) => {
            let key = rest.split(DUPLICATE_MARKER).next().unwrap_or_default();
            StrictJsonError::DuplicateKey(key.to_owned())
        }
        None => StrictJsonError::Syntax(text),
    }
}

/// The error a visitor returns for a duplicate `key` ([`classify`] turns it back into
/// [`StrictJsonError::DuplicateKey`]).
pub(crate) fn duplicate_error<E: de::Error>(key: &str) -> E {
    de::Error::custom(format!("{DUPLICATE_MARKER}{key}{DUPLICATE_MARKER}"))
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(StrictValue)?;
            match out.entry(key) {
                serde_json::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                serde_json::map::Entry::Occupied(slot) => {
                    return Err(duplicate_error(slot.key()));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_parses() {
        let v = parse(br#"{"a":[1,{"b":true}],"c":null}"#);
        assert_eq!(v, Ok(serde_json::json!({"a":[1,{"b":true}],"c":null})));
    }

    #[test]
    fn duplicate_top_level_key_is_named() {
        assert_eq!(
            parse(br#"{"aud":"a","aud":"b"}"#),
            Err(StrictJsonError::DuplicateKey("aud".into()))
        );
    }

    #[test]
    fn duplicate_nested_key_is_named() {
        assert_eq!(
            parse(br#"{"x":[{"k":1,"k":2}]}"#),
            Err(StrictJsonError::DuplicateKey("k".into()))
        );
    }

    #[test]
    fn escaped_duplicate_is_still_a_duplicate() {
        assert_eq!(
            parse(br#"{"alg":"RS256","\u0061lg":"none"}"#),
            Err(StrictJsonError::DuplicateKey("alg".into()))
        );
    }

    #[test]
    fn trailing_garbage_and_syntax_errors_are_refused() {
        assert!(matches!(parse(b"{} x"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(parse(b"{"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(parse(b""), Err(StrictJsonError::Syntax(_))));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(StrictJsonError::Syntax(_))
        ));
    }
}
