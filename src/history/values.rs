//! Record values that are not plain integers, for histories recorded elsewhere.
//!
//! Every part of kafkasim handles a record value as a `u64`: the simulation writes them
//! on its hot path and every checker keys records by `(key, value)`. Jepsen and other
//! tools write any scalar: keywords such as `:a`, strings, negative numbers. The history
//! readers turn each value into a `u64` as follows:
//!
//! - an integer from 0 to 2^63 - 1 stands for itself, so kafkasim's own histories (and
//!   Jepsen's integer ones) read exactly as written;
//! - every other scalar (a string, a keyword, a negative or larger integer, a float, a
//!   boolean, `null`) gets an *id* from [`ValueNames::FIRST_ID`] = 2^63 up, one per
//!   distinct canonical text (`"a"`, `:a` and `5` are three values), in order of first
//!   appearance in the file.
//!
//! No integer that stands for itself can be an id, so the checkers need not know about
//! ids at all. What a person reads goes through [`ValueNames::render`] (one value) or
//! [`ValueNames::rewrite`] (a checker's sentence, in which an id appears as its decimal
//! number), which print the original text instead. Offsets, process ids, op indices and
//! times in a history are all below 2^63 (the readers reject anything larger, as Kafka
//! and Jepsen use signed 64-bit integers), so in a sentence a number at or above 2^63
//! that the table knows can only be a value.

use serde_json::Value;
use std::collections::BTreeMap;

/// The original text of every value a history reader gave an id, by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueNames {
    /// `names[i]` is the value with id `FIRST_ID + i`.
    names: Vec<ValueName>,
    /// Canonical text → id.
    ids: BTreeMap<String, u64>,
}

/// One value as it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueName {
    /// The canonical text, in the syntax of the file: `"a"` (a string, quoted), `:a` (an
    /// EDN keyword), `-3`, `1.5`, `true`, `null` or `nil`.
    pub text: String,
    /// The value for JSON output: strings, numbers, booleans and `null` as themselves;
    /// a keyword or another EDN scalar as a string of its text (`":a"`).
    pub json: Value,
}

impl ValueNames {
    /// The first id given to a value that does not stand for itself: 2^63.
    pub const FIRST_ID: u64 = 1 << 63;

    /// The id of a value that is not a plain integer, given its canonical text and JSON
    /// form: the id the text already has, or the next one.
    pub fn intern(&mut self, text: String, json: Value) -> u64 {
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = Self::FIRST_ID + self.names.len() as u64;
        self.ids.insert(text.clone(), id);
        self.names.push(ValueName { text, json });
        id
    }

    /// The value with this id, if it is one.
    pub fn name(&self, value: u64) -> Option<&ValueName> {
        let index = value.checked_sub(Self::FIRST_ID)?;
        self.names.get(usize::try_from(index).ok()?)
    }

    /// Whether every value stood for itself (no value got an id).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// How many values got an id.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// A value as a person reads it: its original text, or its number.
    pub fn render(&self, value: u64) -> String {
        match self.name(value) {
            Some(name) => name.text.clone(),
            None => value.to_string(),
        }
    }

    /// A value for JSON output: its original JSON form, or its number.
    pub fn to_json(&self, value: u64) -> Value {
        match self.name(value) {
            Some(name) => name.json.clone(),
            None => Value::from(value),
        }
    }

    /// A sentence with every id in it replaced by the value's original text: a run of
    /// digits standing alone (not inside a word, a name such as `orders-2` or a decimal
    /// number) whose number is an id of this table. Everything else is left as it is.
    pub fn rewrite(&self, text: &str) -> String {
        if self.names.is_empty() {
            return text.to_string();
        }
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let glued_before = start > 0 && is_word_byte(bytes[start - 1]);
            let glued_after = i < bytes.len()
                && if bytes[i] == b'.' {
                    bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                } else {
                    is_word_byte(bytes[i])
                };
            if glued_before || glued_after {
                continue;
            }
            let name = text[start..i].parse::<u64>().ok().and_then(|v| self.name(v));
            if let Some(name) = name {
                out.push_str(&text[copied..start]);
                out.push_str(&name.text);
                copied = i;
            }
        }
        out.push_str(&text[copied..]);
        out
    }
}

/// Bytes that make a run of digits part of something else: letters, digits, `_`, `-`
/// (names such as `orders-2`, ranges such as `3-5`), `.` before it (decimals; after it,
/// only when a digit follows: a sentence may end right after a value) and anything
/// outside ASCII.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.') || !b.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> (ValueNames, u64, u64) {
        let mut names = ValueNames::default();
        let a = names.intern("\"a\"".into(), json!("a"));
        let kw = names.intern(":a".into(), json!(":a"));
        (names, a, kw)
    }

    #[test]
    fn ids_are_dense_from_two_to_the_63_in_order_of_first_appearance() {
        let (mut names, a, kw) = table();
        assert_eq!((a, kw), (ValueNames::FIRST_ID, ValueNames::FIRST_ID + 1));
        assert_eq!(names.intern("\"a\"".into(), json!("a")), a, "one id per canonical text");
        assert_eq!(names.len(), 2);
        assert_eq!(names.render(a), "\"a\"");
        assert_eq!(names.render(kw), ":a");
        assert_eq!(names.render(5), "5");
        assert_eq!(names.render(ValueNames::FIRST_ID + 7), (ValueNames::FIRST_ID + 7).to_string());
        assert_eq!(names.to_json(a), json!("a"));
        assert_eq!(names.to_json(5), json!(5));
    }

    #[test]
    fn rewrite_replaces_standalone_ids_only() {
        let (names, a, kw) = table();
        let text = format!("k-{a}: value {a} at offset 3 (value {kw}), values {a}, {kw}. {a}.5 x{a} {a}-{kw}");
        assert_eq!(
            names.rewrite(&text),
            format!("k-{a}: value \"a\" at offset 3 (value :a), values \"a\", :a. {a}.5 x{a} {a}-{kw}")
        );
        assert_eq!(names.rewrite("value 5 at 2.104 s"), "value 5 at 2.104 s");
        assert_eq!(ValueNames::default().rewrite(&a.to_string()), a.to_string());
        let huge = format!("{}0", u64::MAX);
        assert_eq!(names.rewrite(&huge), huge, "a number past u64 is left alone");
    }
}
