//! The raw layer: TOML text to positioned values. It knows TOML syntax, which keys each
//! table accepts and the TOML type of each value, and nothing about what the values mean
//! (that is the readers' job: `validate`, `workload`, `faults`, `nemesis`, `swarm`).
//! Kafka's dotted setting names may be quoted (`"min.insync.replicas" = 2`) or plain
//! (`min.insync.replicas = 2`); both read the same.

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::error::{did_you_mean, excerpt, one_of};
use super::keys;
use super::overrides::{Flag, Overrides};
use super::span::{Issue, Pos, Res, Sp, Span};
use super::values::parse_duration_ms;

/// How deep unknown dotted keys (`a.b.c.d = 1`) are flattened for error messages.
const MAX_DOTS: usize = 8;

/// The TOML shapes a value can have.
#[derive(Clone, Copy)]
enum Shape<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
    Array(&'a toml_edit::Array),
    Table(&'a dyn TableLike),
    Tables(&'a toml_edit::ArrayOfTables),
    /// A `--set` value: its text, and the text as TOML when it is TOML. Each accessor
    /// reads it as the shape it wants (see [`Node::concrete`]).
    Flag(&'a str, Option<&'a Value>),
}

/// One value of the document, with its position.
#[derive(Clone)]
pub(super) struct Node<'a> {
    shape: Shape<'a>,
    /// Where the value is.
    pub pos: Pos,
    /// The `--set` settings, which the tables below this value take too.
    overrides: &'a Overrides,
}

/// Parses the text as TOML.
pub(super) fn parse_document(text: &str) -> Res<ImDocument<&str>> {
    ImDocument::parse(text).map_err(|e| {
        let message = e.message().trim().replace('\n', "; ");
        let message = if message.is_empty() { "expected a value".to_string() } else { message };
        Issue { span: e.span(), field: None, message: format!("invalid TOML: {message}") }
    })
}

/// The document's root table, with the `--set` settings applied.
pub(super) fn root<'a>(doc: &'a ImDocument<&'a str>, overrides: &'a Overrides) -> Res<Table<'a>> {
    let pos = Pos { span: Some(0..0), field: String::new() };
    Table::open(doc.as_table(), pos, keys::ROOT, overrides)
}

impl<'a> Node<'a> {
    fn from_item(item: &'a Item, pos: Pos, overrides: &'a Overrides) -> Option<Node<'a>> {
        let shape = match item {
            Item::None => return None,
            Item::Value(v) => return Some(Node::from_value(v, pos, overrides)),
            Item::Table(t) => Shape::Table(t),
            Item::ArrayOfTables(a) => Shape::Tables(a),
        };
        let pos = Pos { span: item.span().or(pos.span), field: pos.field };
        Some(Node { shape, pos, overrides })
    }

    fn from_value(value: &'a Value, pos: Pos, overrides: &'a Overrides) -> Node<'a> {
        let span = value.span().or(pos.span);
        Node { shape: Self::shape_of(value), pos: Pos { span, field: pos.field }, overrides }
    }

    fn from_flag(flag: &'a Flag, pos: Pos, overrides: &'a Overrides) -> Node<'a> {
        Node { shape: Shape::Flag(&flag.text, flag.parsed.as_ref()), pos, overrides }
    }

    /// A `--set` value read as the shape an accessor wants: the text as written when it
    /// wants a string, else the text as TOML (a string when it is not TOML). Other
    /// values are already concrete.
    fn concrete(&self, wants_string: bool) -> Node<'a> {
        let shape = match self.shape {
            Shape::Flag(_, Some(Value::String(s))) => Shape::Str(s.value()),
            Shape::Flag(text, _) if wants_string => Shape::Str(text),
            Shape::Flag(_, Some(value)) => Self::shape_of(value),
            Shape::Flag(text, None) => Shape::Str(text),
            shape => shape,
        };
        Node { shape, pos: self.pos.clone(), overrides: self.overrides }
    }

    fn shape_of(value: &'a Value) -> Shape<'a> {
        match value {
            Value::String(s) => Shape::Str(s.value()),
            Value::Integer(i) => Shape::Int(*i.value()),
            Value::Float(f) => Shape::Float(*f.value()),
            Value::Boolean(b) => Shape::Bool(*b.value()),
            Value::Datetime(_) => Shape::Datetime,
            Value::Array(a) => Shape::Array(a),
            Value::InlineTable(t) => Shape::Table(t),
        }
    }

    /// "integer 20", "string \"x\"", "a table", ... for messages.
    pub fn describe(&self) -> String {
        match self.concrete(false).shape {
            Shape::Str(s) => format!("string {}", excerpt(s)),
            Shape::Int(i) => format!("integer {i}"),
            Shape::Float(f) => format!("float {f}"),
            Shape::Bool(b) => format!("boolean {b}"),
            Shape::Datetime => "a date-time".to_string(),
            Shape::Array(_) => "an array".to_string(),
            Shape::Table(_) => "a table".to_string(),
            Shape::Tables(_) => "an array of tables".to_string(),
            Shape::Flag(text, _) => format!("string {}", excerpt(text)),
        }
    }

    /// "expected {expected}, found {what this is}", with a hint for quoted numbers.
    pub fn mismatch(&self, expected: &str) -> Issue {
        let mut message = format!("expected {expected}, found {}", self.describe());
        if let Shape::Str(s) = self.concrete(false).shape {
            let t = s.trim();
            let numeric = t.parse::<i64>().is_ok() || t.parse::<f64>().is_ok();
            if (numeric || t == "true" || t == "false") && !expected.contains("string") {
                message.push_str("; write the value without quotes");
            }
        }
        self.pos.issue(message)
    }

    /// The value as a string, when it is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.concrete(true).shape {
            Shape::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer, when it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.concrete(false).shape {
            Shape::Int(i) => Some(i),
            _ => None,
        }
    }

    /// A string.
    pub fn string(&self, expected: &str) -> Res<Sp<String>> {
        match self.concrete(true).shape {
            Shape::Str(s) => Ok(Sp { value: s.to_string(), pos: self.pos.clone() }),
            _ => Err(self.mismatch(expected)),
        }
    }

    /// A non-negative integer.
    pub fn u64(&self) -> Res<Sp<u64>> {
        match self.concrete(false).shape {
            Shape::Int(i) if i >= 0 => Ok(Sp { value: i as u64, pos: self.pos.clone() }),
            Shape::Int(i) => Err(self.pos.issue(format!("expected a non-negative integer, found {i}"))),
            _ => Err(self.mismatch("a non-negative integer")),
        }
    }

    /// A non-negative integer that fits in 32 bits (Kafka's `int`: at most 2147483647).
    pub fn u32(&self) -> Res<Sp<u32>> {
        let v = self.u64()?;
        match u32::try_from(v.value) {
            Ok(x) if x <= i32::MAX as u32 => Ok(Sp { value: x, pos: v.pos }),
            _ => Err(v.pos.issue(format!("expected an integer of at most 2147483647, found {}", v.value))),
        }
    }

    /// A finite number, integer or float.
    pub fn f64(&self) -> Res<Sp<f64>> {
        let value = match self.concrete(false).shape {
            Shape::Int(i) => i as f64,
            Shape::Float(f) if f.is_finite() => f,
            Shape::Float(f) => return Err(self.pos.issue(format!("expected a finite number, found {f}"))),
            _ => return Err(self.mismatch("a number")),
        };
        Ok(Sp { value, pos: self.pos.clone() })
    }

    /// A boolean.
    pub fn bool(&self) -> Res<Sp<bool>> {
        match self.concrete(false).shape {
            Shape::Bool(b) => Ok(Sp { value: b, pos: self.pos.clone() }),
            _ => Err(self.mismatch("a boolean (true or false)")),
        }
    }

    /// A duration string with a unit, in milliseconds.
    pub fn duration_ms(&self) -> Res<Sp<u64>> {
        match self.concrete(true).shape {
            Shape::Str(s) => match parse_duration_ms(s) {
                Ok(ms) => Ok(Sp { value: ms, pos: self.pos.clone() }),
                Err(e) => Err(self.pos.issue(e)),
            },
            Shape::Int(_) | Shape::Float(_) => Err(self.pos.issue(format!(
                "expected a duration string with a unit, such as \"150ms\", \"2.5s\" or \"1m\", \
                 found {}; a bare number does not say its unit",
                self.describe()
            ))),
            _ => Err(self.mismatch("a duration string such as \"150ms\", \"2.5s\" or \"1m\"")),
        }
    }

    /// An array; each element's field is `field[i]`.
    pub fn array(&self, expected: &str) -> Res<Vec<Node<'a>>> {
        match self.concrete(false).shape {
            Shape::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let pos = Pos { span: self.pos.span.clone(), field: format!("{}[{i}]", self.pos.field) };
                    Node::from_value(v, pos, self.overrides)
                })
                .collect()),
            _ => Err(self.mismatch(expected)),
        }
    }

    /// Whether it is a table (`[x]` or `x = { ... }`).
    pub fn is_table(&self) -> bool {
        matches!(self.concrete(false).shape, Shape::Table(_))
    }

    /// Whether it is an array (`x = [...]`).
    pub fn is_array(&self) -> bool {
        matches!(self.concrete(false).shape, Shape::Array(_))
    }

    /// Whether it is a number, integer or float.
    pub fn is_number(&self) -> bool {
        matches!(self.concrete(false).shape, Shape::Int(_) | Shape::Float(_))
    }

    /// A table whose keys must be among `allowed`.
    pub fn table(&self, allowed: &[&str]) -> Res<Table<'a>> {
        match self.concrete(false).shape {
            Shape::Table(t) => Table::open(t, self.pos.clone(), allowed, self.overrides),
            _ => Err(self.mismatch("a table")),
        }
    }

    /// A table whose keys the caller checks (`[fix] set`, whose keys are `--set`'s):
    /// dotted keys are flattened as in any table, and no key is refused here.
    pub fn free_table(&self) -> Res<Table<'a>> {
        match self.concrete(false).shape {
            Shape::Table(t) => Table::open_with(t, self.pos.clone(), &[], false, self.overrides),
            _ => Err(self.mismatch("a table of settings, such as { acks = \"all\" }")),
        }
    }

    /// The value as `--set KEY=VALUE` would write it (`[fix] set`): a string as written
    /// (in TOML quotes when it is empty, padded or quoted itself), any other scalar or
    /// array in TOML.
    pub fn setting_text(&self) -> Res<String> {
        match self.concrete(true).shape {
            Shape::Str(s) if s.is_empty() || s.trim() != s || s.starts_with(['"', '\'']) => {
                Ok(Value::from(s).to_string())
            }
            Shape::Str(s) => Ok(s.to_string()),
            Shape::Int(i) => Ok(i.to_string()),
            Shape::Float(f) => Ok(Value::from(f).to_string()),
            Shape::Bool(b) => Ok(b.to_string()),
            Shape::Array(a) => Ok(a.to_string().trim().to_string()),
            _ => Err(self.mismatch("a setting's value: a string, number, boolean or array")),
        }
    }

    /// An array of tables (`[[x]]` or `x = [{ ... }, ...]`); each table's keys must be
    /// among `allowed`.
    pub fn tables(&self, allowed: &[&str]) -> Res<Vec<Table<'a>>> {
        let name = self.pos.field.clone();
        let at = |i: usize, span: Option<Span>| Pos {
            span: span.or_else(|| self.pos.span.clone()),
            field: format!("{name}[{i}]"),
        };
        let overrides = self.overrides;
        match self.concrete(false).shape {
            Shape::Tables(a) => {
                a.iter().enumerate().map(|(i, t)| Table::open(t, at(i, t.span()), allowed, overrides)).collect()
            }
            Shape::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::InlineTable(t) => Table::open(t, at(i, v.span()), allowed, overrides),
                    _ => Err(Node::from_value(v, at(i, None), overrides).mismatch("a table")),
                })
                .collect(),
            Shape::Table(_) => Err(self.pos.issue(format!(
                "expected an array of tables, found a single table; \
                 write the header as `[[{name}]]`"
            ))),
            _ => Err(self.mismatch(&format!("an array of tables (`[[{name}]]`)"))),
        }
    }
}

/// One key of a table, after dotted keys are flattened.
#[derive(Clone)]
struct Entry<'a> {
    key: String,
    key_pos: Pos,
    node: Node<'a>,
}

/// A table whose keys have been checked against the allowed list.
#[derive(Clone)]
pub(super) struct Table<'a> {
    /// Where the table is (its header, for `[x]` tables).
    pub pos: Pos,
    entries: Vec<Entry<'a>>,
    overrides: &'a Overrides,
}

impl<'a> Table<'a> {
    fn open(table: &'a dyn TableLike, pos: Pos, allowed: &[&str], overrides: &'a Overrides) -> Res<Table<'a>> {
        Self::open_with(table, pos, allowed, true, overrides)
    }

    /// [`Table::open`]; keys outside `allowed` are refused only when `check_keys`.
    fn open_with(
        table: &'a dyn TableLike,
        pos: Pos,
        allowed: &[&str],
        check_keys: bool,
        overrides: &'a Overrides,
    ) -> Res<Table<'a>> {
        let mut flattening = Flattening { pos: &pos, allowed, overrides, entries: Vec::new() };
        flattening.collect(table, "", None, 0);
        let mut entries = flattening.entries;
        let unknown = entries
            .iter()
            .filter(|e| check_keys && !allowed.contains(&e.key.as_str()))
            .min_by_key(|e| e.key_pos.span.as_ref().map_or(0, |s| s.start));
        if let Some(e) = unknown {
            let mut message = match keys::synonym_of(&e.key, allowed) {
                Some(other) => format!("unknown key `{}` here, where the same setting is named `{other}`", e.key),
                None => format!("unknown key `{}`{}", e.key, did_you_mean(&e.key, allowed)),
            };
            if let Some(home) = keys::home_of(&e.key, allowed) {
                message.push_str(&format!("; `{}` belongs in {home}", e.key));
            }
            message.push_str(&format!("; expected one of {}", one_of(allowed)));
            return Err(e.key_pos.issue(message));
        }
        // `"a.b" = 1` and `a.b = 2` are different TOML keys but the same setting here.
        let start = |e: &Entry| e.key_pos.span.as_ref().map_or(0, |s| s.start);
        for (i, e) in entries.iter().enumerate() {
            if let Some(first) = entries[..i].iter().find(|f| f.key == e.key) {
                let later = if start(first) <= start(e) { e } else { first };
                return Err(later.key_pos.issue(format!(
                    "`{}` is set twice, once quoted and once as a dotted key; expected it once",
                    e.key
                )));
            }
        }
        // `--set` wins over the file.
        for flag in overrides.for_table(allowed) {
            flag.mark_used();
            let key_pos = flag.pos(&pos);
            let node = Node::from_flag(flag, key_pos.clone(), overrides);
            // A value cannot stand in for a table: `--set fix=TEXT` on a file with a
            // `[fix]` table would drop its `set` silently, so it is refused instead.
            if entries.iter().any(|e| e.key == flag.key && e.node.is_table()) {
                return Err(key_pos.issue(format!(
                    "this file has a [{key}] table, which a --set value cannot replace; expected the table edited \
                     in the file{hint}",
                    key = flag.key,
                    hint = if flag.key == "fix" { " (`text` is the fix in prose, `set` its settings)" } else { "" }
                )));
            }
            entries.retain(|e| e.key != flag.key);
            entries.push(Entry { key: flag.key.clone(), key_pos, node });
        }
        Ok(Table { pos, entries, overrides })
    }

    /// The value under `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    /// The value under `key`, or an error at the table naming the missing key.
    pub fn require(&self, key: &str, expected: &str) -> Res<&Node<'a>> {
        self.get(key).ok_or_else(|| {
            self.pos.child(key, None).issue(format!("missing required key `{key}`; expected {expected}"))
        })
    }

    /// The keys present, with the position of each key, in file order.
    pub fn keys(&self) -> Vec<(&str, &Pos)> {
        let mut out: Vec<(&str, &Pos)> = self.entries.iter().map(|e| (e.key.as_str(), &e.key_pos)).collect();
        out.sort_by_key(|(_, p)| p.span.as_ref().map_or(0, |s| s.start));
        out
    }

    /// An optional string.
    pub fn opt_string(&self, key: &str, expected: &str) -> Res<Option<Sp<String>>> {
        self.get(key).map(|n| n.string(expected)).transpose()
    }

    /// An optional non-negative integer.
    pub fn opt_u64(&self, key: &str) -> Res<Option<Sp<u64>>> {
        self.get(key).map(Node::u64).transpose()
    }

    /// An optional non-negative 32-bit integer.
    pub fn opt_u32(&self, key: &str) -> Res<Option<Sp<u32>>> {
        self.get(key).map(Node::u32).transpose()
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Res<Option<Sp<bool>>> {
        self.get(key).map(Node::bool).transpose()
    }

    /// A non-negative integer, or `default` when the key is absent.
    pub fn u64_or(&self, key: &str, default: u64) -> Res<u64> {
        Ok(self.opt_u64(key)?.map_or(default, |v| v.value))
    }

    /// A non-negative 32-bit integer, or `default` when the key is absent.
    pub fn u32_or(&self, key: &str, default: u32) -> Res<u32> {
        Ok(self.opt_u32(key)?.map_or(default, |v| v.value))
    }

    /// A boolean, or `default` when the key is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Res<bool> {
        Ok(self.opt_bool(key)?.map_or(default, |v| v.value))
    }

    /// An optional duration, in milliseconds.
    pub fn opt_duration_ms(&self, key: &str) -> Res<Option<Sp<u64>>> {
        self.get(key).map(Node::duration_ms).transpose()
    }

    /// An optional sub-table with its own allowed keys.
    /// A missing one is made when a `--set` setting belongs in it (or in its `config`).
    pub fn opt_table(&self, key: &str, allowed: &[&str]) -> Res<Option<Table<'a>>> {
        if let Some(node) = self.get(key) {
            return node.table(allowed).map(Some);
        }
        match self.overrides.claimant(allowed) {
            Some(flag) => {
                let pos = self.pos.child(key, Some(flag.span.clone()));
                Table::open(&self.overrides.empty, pos, allowed, self.overrides).map(Some)
            }
            None => Ok(None),
        }
    }

    /// An optional array of tables; absent means none.
    pub fn tables(&self, key: &str, allowed: &[&str]) -> Res<Vec<Table<'a>>> {
        self.get(key).map_or(Ok(Vec::new()), |n| n.tables(allowed))
    }
}

/// One table's flattening into dotted-key entries: what stays the same at every level of
/// the recursion.
struct Flattening<'a, 'p> {
    /// The table's position, which every key's position extends.
    pos: &'p Pos,
    /// The keys the table may hold.
    allowed: &'p [&'p str],
    /// The `--set` overrides, read into the nodes.
    overrides: &'a Overrides,
    /// The entries found so far, in file order.
    entries: Vec<Entry<'a>>,
}

impl<'a> Flattening<'a, '_> {
    /// Flattens `table`, descending into sub-tables only where they spell the prefix of
    /// an allowed dotted key (`min.insync.replicas = 2` is three nested tables). `first`
    /// is the span of the dotted key's first part, so errors point at its start.
    /// Recursion is bounded: by the allowed keys' dots, and by `MAX_DOTS` for other keys.
    fn collect(&mut self, table: &'a dyn TableLike, prefix: &str, first: Option<&Span>, depth: usize) {
        let (pos, allowed, overrides) = (self.pos, self.allowed, self.overrides);
        for (key, item) in table.iter() {
            let own_span = table.get_key_value(key).and_then(|(k, _)| k.span());
            let key_span = match (first, own_span) {
                (Some(f), Some(o)) if f.start <= o.start => Some(f.start..o.end),
                (Some(f), _) => Some(f.clone()),
                (None, o) => o,
            };
            let dotted = if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
            let key_pos = pos.child(&dotted, key_span);
            // A dotted table (`a.b = 1`) is key syntax, not structure: flatten it whenever
            // it is not an allowed key itself, so unknown keys are reported in full
            // (`replication.factor`). Tables under their own `[a.b]` header are flattened
            // only when they spell the prefix of an allowed dotted key.
            let dotted_table = match item {
                Item::Table(t) => t.is_dotted(),
                Item::Value(Value::InlineTable(t)) => t.is_dotted(),
                _ => false,
            };
            let head = format!("{dotted}.");
            let prefix_of_allowed = allowed.iter().any(|a| a.starts_with(&head));
            let descend =
                !allowed.contains(&dotted.as_str()) && (prefix_of_allowed || (dotted_table && depth < MAX_DOTS));
            if let (true, Some(sub)) = (descend, item.as_table_like()) {
                // Keys of a dotted table are reported from the start of the whole dotted
                // key; keys under a `[a.b]` header from their own start.
                let first = if dotted_table { key_pos.span.clone() } else { None };
                self.collect(sub, &dotted, first.as_ref(), depth + 1);
                continue;
            }
            if let Some(node) = Node::from_item(item, key_pos.clone(), overrides) {
                self.entries.push(Entry { key: dotted, key_pos, node });
            }
        }
    }
}
