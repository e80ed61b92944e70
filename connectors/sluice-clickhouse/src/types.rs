//! ClickHouse column types: [`ClickhouseType`] and a parser for the type strings the server
//! reports in `system.columns` / `DESCRIBE TABLE` (`Array(Nullable(String))`,
//! `DateTime64(3, 'UTC')`, `Enum8('a' = 1, 'b' = 2)`, `Decimal(18, 4)`, …).
//!
//! `Nested(a String, b UInt8)` (a column of a table created with `flatten_nested = 0`) is read
//! as what it is on the wire, `Array(Tuple(a String, b UInt8))`, and displayed that way.

use std::fmt;

/// A ClickHouse data type, as far as the RowBinary encoder needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickhouseType {
    Int8,
    Int16,
    Int32,
    Int64,
    Int128,
    Int256,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    UInt128,
    UInt256,
    Float32,
    Float64,
    /// `Bool` (ClickHouse 21.12+); one byte, 0 or 1.
    Bool,
    String,
    /// `FixedString(n)`: exactly `n` bytes, zero-padded.
    FixedString(usize),
    /// Days since 1970-01-01 as `UInt16`.
    Date,
    /// Days since 1970-01-01 as `Int32` (ClickHouse 21.9+).
    Date32,
    /// Seconds since the epoch as `UInt32`; the time zone only affects how ClickHouse displays it.
    DateTime(Option<String>),
    /// Ticks of `10^-precision` seconds since the epoch as `Int64`.
    DateTime64 {
        precision: u32,
        timezone: Option<String>,
    },
    /// `unscaled × 10^-scale`, stored in 4, 8, 16 or 32 bytes depending on `precision`.
    Decimal {
        precision: u32,
        scale: u32,
    },
    Uuid,
    Ipv4,
    Ipv6,
    /// `Enum8`: names and their `Int8` values.
    Enum8(Vec<(String, i8)>),
    /// `Enum16`: names and their `Int16` values.
    Enum16(Vec<(String, i16)>),
    Nullable(Box<ClickhouseType>),
    /// Encoded exactly as its inner type in RowBinary.
    LowCardinality(Box<ClickhouseType>),
    Array(Box<ClickhouseType>),
    /// `Tuple(T1, T2)` or `Tuple(a T1, b T2)`: elements with their names, all named or none.
    Tuple(Vec<(Option<String>, ClickhouseType)>),
    /// `Map(K, V)`: on the wire an array of key, value pairs.
    Map(Box<ClickhouseType>, Box<ClickhouseType>),
}

/// A type string the parser does not understand, or a type Sluice cannot write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeParseError {
    /// The full type string as the server reported it.
    pub type_name: String,
    /// What went wrong, in a sentence fragment.
    pub reason: String,
}

impl fmt::Display for TypeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "type `{}` is not supported: {}", self.type_name, self.reason)
    }
}

impl ClickhouseType {
    /// Parses a type string as ClickHouse reports it.
    pub fn parse(type_name: &str) -> Result<Self, TypeParseError> {
        let err = |reason: String| TypeParseError { type_name: type_name.to_owned(), reason };
        let mut p = Parser { s: type_name.as_bytes(), pos: 0 };
        let ty = p.parse_type().map_err(err)?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(err(format!("unexpected text at position {}", p.pos)));
        }
        Ok(ty)
    }

    /// Whether `NULL` can be written (`Nullable`, possibly inside `LowCardinality`).
    pub fn is_nullable(&self) -> bool {
        match self {
            ClickhouseType::Nullable(_) => true,
            ClickhouseType::LowCardinality(inner) => inner.is_nullable(),
            _ => false,
        }
    }
}

impl fmt::Display for ClickhouseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ClickhouseType as T;
        let quoted = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        match self {
            T::Int8 => f.write_str("Int8"),
            T::Int16 => f.write_str("Int16"),
            T::Int32 => f.write_str("Int32"),
            T::Int64 => f.write_str("Int64"),
            T::Int128 => f.write_str("Int128"),
            T::Int256 => f.write_str("Int256"),
            T::UInt8 => f.write_str("UInt8"),
            T::UInt16 => f.write_str("UInt16"),
            T::UInt32 => f.write_str("UInt32"),
            T::UInt64 => f.write_str("UInt64"),
            T::UInt128 => f.write_str("UInt128"),
            T::UInt256 => f.write_str("UInt256"),
            T::Float32 => f.write_str("Float32"),
            T::Float64 => f.write_str("Float64"),
            T::Bool => f.write_str("Bool"),
            T::String => f.write_str("String"),
            T::FixedString(n) => write!(f, "FixedString({n})"),
            T::Date => f.write_str("Date"),
            T::Date32 => f.write_str("Date32"),
            T::DateTime(None) => f.write_str("DateTime"),
            T::DateTime(Some(tz)) => write!(f, "DateTime({})", quoted(tz)),
            T::DateTime64 { precision, timezone: None } => write!(f, "DateTime64({precision})"),
            T::DateTime64 { precision, timezone: Some(tz) } => {
                write!(f, "DateTime64({precision}, {})", quoted(tz))
            }
            T::Decimal { precision, scale } => write!(f, "Decimal({precision}, {scale})"),
            T::Uuid => f.write_str("UUID"),
            T::Ipv4 => f.write_str("IPv4"),
            T::Ipv6 => f.write_str("IPv6"),
            T::Enum8(items) => write_enum(f, "Enum8", items.iter().map(|(n, v)| (n, *v as i16))),
            T::Enum16(items) => write_enum(f, "Enum16", items.iter().map(|(n, v)| (n, *v))),
            T::Nullable(inner) => write!(f, "Nullable({inner})"),
            T::LowCardinality(inner) => write!(f, "LowCardinality({inner})"),
            T::Array(inner) => write!(f, "Array({inner})"),
            T::Tuple(items) => {
                f.write_str("Tuple(")?;
                for (i, (name, item)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match name {
                        Some(name) if is_plain_identifier(name) => write!(f, "{name} {item}")?,
                        // As the server prints names that are not plain identifiers.
                        Some(name) => write!(f, "`{}` {item}", name.replace('\\', "\\\\").replace('`', "\\`"))?,
                        None => write!(f, "{item}")?,
                    }
                }
                f.write_str(")")
            }
            T::Map(k, v) => write!(f, "Map({k}, {v})"),
        }
    }
}

fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn write_enum<'a>(
    f: &mut fmt::Formatter<'_>,
    kind: &str,
    items: impl Iterator<Item = (&'a String, i16)>,
) -> fmt::Result {
    write!(f, "{kind}(")?;
    for (i, (name, value)) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "'{}' = {value}", name.replace('\\', "\\\\").replace('\'', "\\'"))?;
    }
    f.write_str(")")
}

/// A small recursive-descent parser over the type string's bytes.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

type ParseResult<T> = Result<T, String>;

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> ParseResult<()> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at position {}", c as char, self.pos))
        }
    }

    fn ident(&mut self) -> ParseResult<String> {
        self.skip_ws();
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(format!("expected a type name at position {start}"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.pos]).into_owned())
    }

    fn integer(&mut self) -> ParseResult<i64> {
        self.skip_ws();
        let start = self.pos;
        if matches!(self.s.get(self.pos), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("expected a number at position {start}"))
    }

    fn unsigned(&mut self, what: &str, max: i64) -> ParseResult<u32> {
        let v = self.integer()?;
        if !(0..=max).contains(&v) {
            return Err(format!("{what} {v} is out of range 0..={max}"));
        }
        Ok(v as u32)
    }

    /// A single-quoted string with `\'`, `\\` and `''` escapes.
    fn quoted(&mut self) -> ParseResult<String> {
        self.quoted_by(b'\'')
    }

    /// Text between `quote`s, with `\` escapes and the quote doubled for itself: single quotes
    /// around strings, backquotes around names that are not plain identifiers.
    fn quoted_by(&mut self, quote: u8) -> ParseResult<String> {
        self.eat(quote)?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.pos).copied() {
                None => return Err("unterminated quoted string".into()),
                Some(b'\\') => {
                    let c = self.s.get(self.pos + 1).copied().ok_or("dangling escape")?;
                    out.push(c);
                    self.pos += 2;
                }
                Some(c) if c == quote && self.s.get(self.pos + 1) == Some(&quote) => {
                    out.push(quote);
                    self.pos += 2;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| "quoted string is not UTF-8".into());
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn inner(&mut self) -> ParseResult<Box<ClickhouseType>> {
        self.eat(b'(')?;
        let t = self.parse_type()?;
        self.eat(b')')?;
        Ok(Box::new(t))
    }

    fn parse_type(&mut self) -> ParseResult<ClickhouseType> {
        use ClickhouseType as T;
        let name = self.ident()?;
        let has_args = self.peek() == Some(b'(');
        Ok(match (name.as_str(), has_args) {
            ("Int8", false) => T::Int8,
            ("Int16", false) => T::Int16,
            ("Int32", false) => T::Int32,
            ("Int64", false) => T::Int64,
            ("Int128", false) => T::Int128,
            ("Int256", false) => T::Int256,
            ("UInt8", false) => T::UInt8,
            ("UInt16", false) => T::UInt16,
            ("UInt32", false) => T::UInt32,
            ("UInt64", false) => T::UInt64,
            ("UInt128", false) => T::UInt128,
            ("UInt256", false) => T::UInt256,
            ("Float32", false) => T::Float32,
            ("Float64", false) => T::Float64,
            ("Bool", false) => T::Bool,
            ("String", false) => T::String,
            ("Date", false) => T::Date,
            ("Date32", false) => T::Date32,
            ("UUID", false) => T::Uuid,
            ("IPv4", false) => T::Ipv4,
            ("IPv6", false) => T::Ipv6,
            ("DateTime", false) => T::DateTime(None),
            ("DateTime", true) => {
                self.eat(b'(')?;
                let tz = self.quoted()?;
                self.eat(b')')?;
                T::DateTime(Some(tz))
            }
            ("DateTime64", true) => {
                self.eat(b'(')?;
                let precision = self.unsigned("DateTime64 precision", 9)?;
                let timezone = if self.peek() == Some(b',') {
                    self.pos += 1;
                    Some(self.quoted()?)
                } else {
                    None
                };
                self.eat(b')')?;
                T::DateTime64 { precision, timezone }
            }
            ("FixedString", true) => {
                self.eat(b'(')?;
                let n = self.unsigned("FixedString length", u32::MAX as i64)?;
                self.eat(b')')?;
                T::FixedString(n as usize)
            }
            ("Decimal", true) => {
                self.eat(b'(')?;
                let precision = self.unsigned("Decimal precision", 76)?;
                self.eat(b',')?;
                let scale = self.unsigned("Decimal scale", precision as i64)?;
                self.eat(b')')?;
                if precision == 0 {
                    return Err("Decimal precision must be at least 1".into());
                }
                T::Decimal { precision, scale }
            }
            ("Decimal32" | "Decimal64" | "Decimal128" | "Decimal256", true) => {
                let precision = match name.as_str() {
                    "Decimal32" => 9,
                    "Decimal64" => 18,
                    "Decimal128" => 38,
                    _ => 76,
                };
                self.eat(b'(')?;
                let scale = self.unsigned("Decimal scale", precision as i64)?;
                self.eat(b')')?;
                T::Decimal { precision, scale }
            }
            ("Enum8", true) => T::Enum8(self.enum_items(i8::MIN as i64, i8::MAX as i64, |v| v as i8)?),
            ("Enum16", true) => T::Enum16(self.enum_items(i16::MIN as i64, i16::MAX as i64, |v| v as i16)?),
            ("Nullable", true) => T::Nullable(self.inner()?),
            ("LowCardinality", true) => T::LowCardinality(self.inner()?),
            ("Array", true) => T::Array(self.inner()?),
            ("SimpleAggregateFunction", true) => {
                // `SimpleAggregateFunction(any, T)` is stored and inserted as plain `T`.
                self.eat(b'(')?;
                self.ident()?;
                self.eat(b',')?;
                let t = self.parse_type()?;
                self.eat(b')')?;
                t
            }
            ("Tuple", true) => T::Tuple(self.tuple_items()?),
            // With `flatten_nested = 0` a Nested column keeps its type; it is stored and inserted
            // as an array of named tuples.
            ("Nested", true) => {
                let items = self.tuple_items()?;
                if items.iter().any(|(name, _)| name.is_none()) {
                    return Err("Nested elements need names".into());
                }
                T::Array(Box::new(T::Tuple(items)))
            }
            ("Map", true) => {
                self.eat(b'(')?;
                let k = self.parse_type()?;
                self.eat(b',')?;
                let v = self.parse_type()?;
                self.eat(b')')?;
                T::Map(Box::new(k), Box::new(v))
            }
            ("Nothing", _) => return Err("`Nothing` columns cannot hold values".into()),
            (other, _) => return Err(format!("Sluice cannot write `{other}` columns yet")),
        })
    }

    fn enum_items<V>(&mut self, min: i64, max: i64, cast: impl Fn(i64) -> V) -> ParseResult<Vec<(String, V)>> {
        self.eat(b'(')?;
        let mut items = Vec::new();
        loop {
            let name = self.quoted()?;
            self.eat(b'=')?;
            let v = self.integer()?;
            if !(min..=max).contains(&v) {
                return Err(format!("enum value {v} is out of range {min}..={max}"));
            }
            items.push((name, cast(v)));
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => break,
            }
        }
        self.eat(b')')?;
        Ok(items)
    }

    /// Tuple elements, all unnamed (`Tuple(String, UInt8)`) or all named (`Tuple(a String,
    /// b UInt8)`, with names in backquotes where they are not plain identifiers).
    fn tuple_items(&mut self) -> ParseResult<Vec<(Option<String>, ClickhouseType)>> {
        self.eat(b'(')?;
        let mut items = Vec::new();
        loop {
            let name = if self.peek() == Some(b'`') {
                Some(self.quoted_by(b'`')?)
            } else {
                let save = self.pos;
                let word = self.ident()?;
                // A name is followed by its type; a type by `(`, `,` or `)`.
                if matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
                    Some(word)
                } else {
                    self.pos = save;
                    None
                }
            };
            items.push((name, self.parse_type()?));
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => break,
            }
        }
        self.eat(b')')?;
        let named = items.iter().filter(|(name, _)| name.is_some()).count();
        if named != 0 && named != items.len() {
            return Err("Tuple elements must be all named or all unnamed".into());
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::ClickhouseType as T;

    fn parse(s: &str) -> T {
        match T::parse(s) {
            Ok(t) => t,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn parses_scalar_types() {
        assert_eq!(parse("UInt64"), T::UInt64);
        assert_eq!(parse("String"), T::String);
        assert_eq!(parse("FixedString(16)"), T::FixedString(16));
        assert_eq!(parse("Date"), T::Date);
        assert_eq!(parse("DateTime"), T::DateTime(None));
        assert_eq!(parse("DateTime('Europe/Berlin')"), T::DateTime(Some("Europe/Berlin".into())));
        assert_eq!(parse("UUID"), T::Uuid);
        assert_eq!(parse("Bool"), T::Bool);
    }

    #[test]
    fn parses_parameterised_types_as_the_server_prints_them() {
        assert_eq!(parse("DateTime64(3, 'UTC')"), T::DateTime64 { precision: 3, timezone: Some("UTC".into()) });
        assert_eq!(parse("DateTime64(6)"), T::DateTime64 { precision: 6, timezone: None });
        assert_eq!(parse("Decimal(18, 4)"), T::Decimal { precision: 18, scale: 4 });
        assert_eq!(parse("Decimal32(2)"), T::Decimal { precision: 9, scale: 2 });
        assert_eq!(parse("Decimal128(10)"), T::Decimal { precision: 38, scale: 10 });
        assert_eq!(parse("Enum8('a' = 1, 'b' = 2)"), T::Enum8(vec![("a".into(), 1), ("b".into(), 2)]));
        // 18.16 prints quotes inside names with a backslash.
        assert_eq!(
            parse(r"Enum16('it\'s' = -300, 'x,y' = 7)"),
            T::Enum16(vec![("it's".into(), -300), ("x,y".into(), 7)])
        );
    }

    #[test]
    fn parses_nested_types() {
        assert_eq!(parse("Array(Nullable(String))"), T::Array(Box::new(T::Nullable(Box::new(T::String)))));
        let lc = parse("LowCardinality(Nullable(String))");
        assert_eq!(lc, T::LowCardinality(Box::new(T::Nullable(Box::new(T::String)))));
        assert!(lc.is_nullable());
        assert!(!parse("Array(Nullable(String))").is_nullable());
        assert_eq!(
            parse("Array(Array(DateTime64(3, 'UTC')))"),
            T::Array(Box::new(T::Array(Box::new(T::DateTime64 { precision: 3, timezone: Some("UTC".into()) }))))
        );
        assert_eq!(parse("Tuple(String, UInt8)"), T::Tuple(vec![(None, T::String), (None, T::UInt8)]));
        let named = T::Tuple(vec![(Some("a".into()), T::String), (Some("b".into()), T::Array(Box::new(T::Int32)))]);
        assert_eq!(parse("Tuple(a String, b Array(Int32))"), named);
        // Current servers pretty-print named tuples over several lines in DESCRIBE.
        assert_eq!(parse("Tuple(\n    a String,\n    b Array(Int32))"), named);
        assert_eq!(
            parse(r"Tuple(`a b` String, `it\`s` UInt8)"),
            T::Tuple(vec![(Some("a b".into()), T::String), (Some("it`s".into()), T::UInt8)])
        );
        assert_eq!(
            parse("Nested(a String, b UInt8)"),
            T::Array(Box::new(T::Tuple(vec![(Some("a".into()), T::String), (Some("b".into()), T::UInt8)])))
        );
        assert_eq!(parse("Map(String, UInt64)"), T::Map(Box::new(T::String), Box::new(T::UInt64)));
        assert_eq!(parse("SimpleAggregateFunction(max, UInt32)"), T::UInt32);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "Array(Nullable(String))",
            "LowCardinality(Nullable(String))",
            "DateTime64(3, 'UTC')",
            "Enum8('a' = 1, 'b' = 2)",
            "Decimal(18, 4)",
            "Map(String, Tuple(UInt8, FixedString(2)))",
            "Tuple(a String, b Nullable(UInt8))",
            r"Tuple(`a b` String, `it\`s` Map(String, Array(Nullable(String))))",
            "Array(Tuple(a String, b UInt8))",
            "DateTime64(9, 'Asia/Tokyo')",
            "Decimal(76, 10)",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_unknown_and_malformed_types_with_a_reason() {
        let e = T::parse("Nothing").unwrap_err();
        assert!(e.to_string().contains("Nothing"), "{e}");
        let e = T::parse("AggregateFunction(uniq, UInt64)").unwrap_err();
        assert!(e.reason.contains("AggregateFunction"), "{e}");
        assert!(T::parse("Nullable(String").is_err());
        assert!(T::parse("Decimal(10, 11)").is_err());
        assert!(T::parse("Enum8('a' = 300)").is_err());
        assert!(T::parse("String extra").is_err());
        let e = T::parse("Tuple(a String, UInt8)").unwrap_err();
        assert!(e.reason.contains("all named or all unnamed"), "{e}");
        assert!(T::parse("Nested(String)").unwrap_err().reason.contains("need names"));
    }
}
