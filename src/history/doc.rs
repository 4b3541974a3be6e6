//! One parsed form of a history file, whatever its syntax: the tree the op reader
//! ([`super::parse`]) walks, with the line and column of every node so that an error can
//! point at the offending part. JSON comes in through [`Doc::from_json_text`] (or
//! [`Doc::from_json_value`], without positions), EDN through [`super::edn`].

use serde_json::Value;

/// The syntax a history file is written in; error messages and value texts follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// kafkasim's JSON Lines.
    Json,
    /// Jepsen's EDN.
    Edn,
}

/// Where a node starts: a 1-based line and column (in characters). `line` 0 means
/// unknown (a node built from an already parsed JSON value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// The 1-based line; 0 when unknown.
    pub line: usize,
    /// The 1-based column, in characters; 0 when unknown.
    pub column: usize,
}

/// A node of a parsed form.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    /// What it is.
    pub kind: DocKind,
    /// Where it starts.
    pub at: Pos,
}

/// The kinds of node; JSON uses a subset.
#[derive(Clone, Debug, PartialEq)]
pub enum DocKind {
    /// JSON `null`, EDN `nil`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer (JSON allows more than 64 bits of sign and magnitude together).
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string, decoded.
    Str(String),
    /// An EDN keyword, without its colon.
    Keyword(String),
    /// Any other EDN scalar (a symbol, a character, a ratio, a tagged scalar such as
    /// `#inst "..."`), as its source text.
    Other(String),
    /// A JSON array, an EDN vector, list or set.
    List(Vec<Doc>),
    /// A JSON object or an EDN map, entries in source order.
    Map(Vec<(Doc, Doc)>),
}

impl Doc {
    /// The node with this name in a map: a key that is the string or keyword `name`
    /// (the last one, as JSON readers take the last of duplicate keys).
    pub fn field(&self, name: &str) -> Option<&Doc> {
        match &self.kind {
            DocKind::Map(entries) => entries.iter().rev().find(|(k, _)| k.is_name(name)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether the node is the string or keyword `name`.
    pub fn is_name(&self, name: &str) -> bool {
        self.as_name() == Some(name)
    }

    /// The text of a string or keyword.
    pub fn as_name(&self) -> Option<&str> {
        match &self.kind {
            DocKind::Str(s) | DocKind::Keyword(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of a list.
    pub fn as_list(&self) -> Option<&[Doc]> {
        match &self.kind {
            DocKind::List(items) => Some(items),
            _ => None,
        }
    }

    /// Whether the node is `null`/`nil`.
    pub fn is_null(&self) -> bool {
        self.kind == DocKind::Null
    }

    /// The node as text in `syntax`, compact, for messages and error fields.
    pub fn render(&self, syntax: Syntax) -> String {
        match (&self.kind, syntax) {
            (DocKind::Null, Syntax::Json) => "null".into(),
            (DocKind::Null, Syntax::Edn) => "nil".into(),
            (DocKind::Bool(b), _) => b.to_string(),
            (DocKind::Int(n), _) => n.to_string(),
            (DocKind::Float(x), _) => float_text(*x),
            (DocKind::Str(s), _) => Value::from(s.as_str()).to_string(),
            (DocKind::Keyword(k), _) => format!(":{k}"),
            (DocKind::Other(text), _) => text.clone(),
            (DocKind::List(items), _) => {
                let sep = if syntax == Syntax::Json { "," } else { " " };
                let items: Vec<String> = items.iter().map(|d| d.render(syntax)).collect();
                format!("[{}]", items.join(sep))
            }
            (DocKind::Map(entries), _) => {
                let (sep, colon) = if syntax == Syntax::Json { (",", ":") } else { (", ", " ") };
                let entries: Vec<String> =
                    entries.iter().map(|(k, v)| format!("{}{colon}{}", k.render(syntax), v.render(syntax))).collect();
                format!("{{{}}}", entries.join(sep))
            }
        }
    }

    /// A JSON value as a node without positions (for ops already parsed).
    pub fn from_json_value(value: &Value) -> Doc {
        let kind = match value {
            Value::Null => DocKind::Null,
            Value::Bool(b) => DocKind::Bool(*b),
            Value::Number(n) => number_kind(n),
            Value::String(s) => DocKind::Str(s.clone()),
            Value::Array(items) => DocKind::List(items.iter().map(Doc::from_json_value).collect()),
            Value::Object(map) => DocKind::Map(
                map.iter()
                    .map(|(k, v)| (Doc { kind: DocKind::Str(k.clone()), at: Pos::default() }, Doc::from_json_value(v)))
                    .collect(),
            ),
        };
        Doc { kind, at: Pos::default() }
    }

    /// Parses one JSON text (a line of a history) into a node with the position of every
    /// part; `line` is the text's line in its file. A syntax error says where, as
    /// `(column, message)`.
    pub fn from_json_text(text: &str, line: usize) -> Result<Doc, (usize, String)> {
        // serde_json finds syntax errors and words them well; the walk below then only
        // sees valid JSON and records where each node starts.
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            return Err((char_column(text, e.column()), format!("not valid JSON: {message}")));
        }
        let mut walker = JsonWalker { text, pos: 0, line };
        walker.value().map_err(|message| (walker.column(), message))
    }
}

/// A number's kind: an integer when it is one, else a float.
fn number_kind(n: &serde_json::Number) -> DocKind {
    if let Some(u) = n.as_u64() {
        DocKind::Int(i128::from(u))
    } else if let Some(i) = n.as_i64() {
        DocKind::Int(i128::from(i))
    } else {
        DocKind::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A float as JSON writes it (`1.5`, `1e300`), or Rust's text for what JSON cannot hold.
pub fn float_text(x: f64) -> String {
    serde_json::Number::from_f64(x).map_or_else(|| x.to_string(), |n| n.to_string())
}

/// serde_json counts columns in bytes; the reports count characters.
fn char_column(text: &str, byte_column: usize) -> usize {
    let byte = byte_column.saturating_sub(1).min(text.len());
    let boundary = (0..=byte).rev().find(|&b| text.is_char_boundary(b)).unwrap_or(0);
    text[..boundary].chars().count() + 1
}

/// Walks a JSON text already known to be valid, building nodes with their positions.
struct JsonWalker<'t> {
    text: &'t str,
    /// Byte offset of the next unread character.
    pos: usize,
    line: usize,
}

impl JsonWalker<'_> {
    fn column(&self) -> usize {
        self.text[..self.pos].chars().count() + 1
    }

    fn skip_whitespace(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}`", byte as char))
        }
    }

    fn value(&mut self) -> Result<Doc, String> {
        self.skip_whitespace();
        let at = Pos { line: self.line, column: self.column() };
        let kind = match self.peek() {
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.skip_whitespace();
                        if self.peek() == Some(b',') {
                            self.pos += 1;
                        } else {
                            self.expect(b']')?;
                            break;
                        }
                    }
                }
                DocKind::List(items)
            }
            Some(b'{') => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        let key = self.value()?;
                        self.expect(b':')?;
                        entries.push((key, self.value()?));
                        self.skip_whitespace();
                        if self.peek() == Some(b',') {
                            self.pos += 1;
                        } else {
                            self.expect(b'}')?;
                            break;
                        }
                    }
                }
                DocKind::Map(entries)
            }
            Some(b'"') => {
                let end = self.string_end();
                let text = &self.text[self.pos..end];
                self.pos = end;
                DocKind::Str(serde_json::from_str(text).map_err(|e| e.to_string())?)
            }
            Some(_) => {
                let rest = &self.text[self.pos..];
                let len = rest.find([',', ']', '}', ' ', '\t', '\n', '\r', ':']).unwrap_or(rest.len());
                let token = &rest[..len];
                self.pos += len;
                match serde_json::from_str::<Value>(token).map_err(|e| e.to_string())? {
                    Value::Null => DocKind::Null,
                    Value::Bool(b) => DocKind::Bool(b),
                    Value::Number(n) => number_kind(&n),
                    _ => return Err(format!("unexpected `{token}`")),
                }
            }
            None => return Err("unexpected end of line".into()),
        };
        Ok(Doc { kind, at })
    }

    /// The byte offset just past the string that starts at `pos`.
    fn string_end(&self) -> usize {
        let bytes = self.text.as_bytes();
        let mut i = self.pos + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_nodes_know_where_they_start() {
        let doc = Doc::from_json_text(r#"{"a": [1, "é", -2.5], "b":{"c":null}}"#, 7).unwrap();
        let a = doc.field("a").unwrap();
        assert_eq!(a.at, Pos { line: 7, column: 7 });
        let items = a.as_list().unwrap();
        assert_eq!(items[1].kind, DocKind::Str("é".into()));
        assert_eq!(items[2].at.column, 16, "columns count characters");
        assert_eq!(items[2].kind, DocKind::Float(-2.5));
        assert!(doc.field("b").unwrap().field("c").unwrap().is_null());
        assert_eq!(Doc::from_json_value(&serde_json::json!({"a": [1, "é", -2.5]})).field("a").unwrap().at.line, 0);
    }

    #[test]
    fn json_syntax_errors_name_the_column() {
        let (column, message) = Doc::from_json_text(r#"{"a": [1, 2}"#, 1).unwrap_err();
        assert_eq!(column, 12);
        assert!(message.starts_with("not valid JSON: "), "{message}");
        assert!(!message.contains(" at line "), "{message}");
    }

    #[test]
    fn large_and_negative_integers_keep_their_value() {
        let doc = Doc::from_json_text("[18446744073709551615, -9223372036854775808, 1.0]", 1).unwrap();
        let items = doc.as_list().unwrap();
        assert_eq!(items[0].kind, DocKind::Int(u64::MAX.into()));
        assert_eq!(items[1].kind, DocKind::Int(i64::MIN.into()));
        assert_eq!(items[2].kind, DocKind::Float(1.0));
        assert_eq!(items[2].render(Syntax::Json), "1.0");
    }

    #[test]
    fn render_follows_the_syntax() {
        let doc = Doc::from_json_text(r#"{"k":[null,"a"]}"#, 1).unwrap();
        assert_eq!(doc.render(Syntax::Json), r#"{"k":[null,"a"]}"#);
        assert_eq!(doc.render(Syntax::Edn), r#"{"k" [nil "a"]}"#);
    }
}
