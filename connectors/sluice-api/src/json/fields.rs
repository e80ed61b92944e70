//! The fields of a plain JSON object read straight from its text, and the quick scan that
//! accepts plain documents without building their value (see the module above).

use super::parse;
use crate::Value;

/// Whether `data` is JSON of a plain kind that [`parse`] surely accepts: UTF-8, nesting under
/// 100 levels, strings without `\u` escapes or control characters, numbers of at most 18
/// characters without an exponent (none can overflow). `false` says nothing either way.
pub(super) fn plainly_valid(data: &[u8]) -> bool {
    // One pass of std's UTF-8 check first: checking inside strings only, one character at a
    // time, took more instructions per record (tests/bench/instructions.sh).
    if std::str::from_utf8(data).is_err() {
        return false;
    }
    let mut scan = PlainScan { data, at: 0 };
    scan.whitespace();
    let valid = scan.value(0);
    scan.whitespace();
    valid && scan.at == data.len()
}

/// One field's value as [`ObjectFields`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A string without escapes.
    Text(&'a str),
    /// `true`, `false`, `null`, or a number: the value [`parse`] makes of it.
    Scalar(ScalarValue),
    /// An object or array, as text: [`parse`] it for its value.
    Nested(&'a [u8]),
}

impl FieldValue<'_> {
    /// The value [`parse`] makes of it (nested text is parsed; it was read as plain JSON, so
    /// that does not fail in practice).
    pub fn to_value(self) -> Result<Value, serde_json::Error> {
        match self {
            FieldValue::Text(text) => Ok(Value::String(text.into())),
            FieldValue::Scalar(scalar) => Ok(scalar.to_value()),
            FieldValue::Nested(text) => parse(text),
        }
    }
}

/// A scalar [`FieldValue`]. JSON text gives the first four; the others are the typed scalars
/// of a datum ([`crate::DatumReader::read_fields`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarValue {
    Null,
    Boolean(bool),
    Int64(i64),
    Float64(f64),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Float32(f32),
    /// Days since the epoch ([`Value::Date`]).
    Date(i32),
    /// Milliseconds since midnight ([`Value::Time`]).
    Time(i32),
    /// Milliseconds since the epoch ([`Value::Timestamp`]).
    Timestamp(i64),
}

impl ScalarValue {
    /// The value [`parse`] makes of it.
    pub fn to_value(self) -> Value {
        match self {
            ScalarValue::Null => Value::Null,
            ScalarValue::Boolean(b) => Value::Boolean(b),
            ScalarValue::Int64(i) => Value::Int64(i),
            ScalarValue::Float64(f) => Value::Float64(f),
            ScalarValue::Int8(i) => Value::Int8(i),
            ScalarValue::Int16(i) => Value::Int16(i),
            ScalarValue::Int32(i) => Value::Int32(i),
            ScalarValue::Float32(f) => Value::Float32(f),
            ScalarValue::Date(days) => Value::Date(days),
            ScalarValue::Time(ms) => Value::Time(ms),
            ScalarValue::Timestamp(ms) => Value::Timestamp(ms),
        }
    }
}

/// Why [`ObjectFields`] stopped: the text is not a plain object (not an object at all, a key or
/// string with escapes, a number with an exponent, anything `plainly_valid` is unsure of).
/// The caller [`parse`]s it instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPlain;

/// Reads the fields of a plain JSON object one by one without building its value, for a sink
/// that writes columns straight from JSON text (`SinkTask::reads_json_values`). Each value is
/// what [`parse`] would give for it; anything that is not plain stops the reading with
/// [`NotPlain`] (numbers are read by the same routine as `parse` reads them, so both agree to
/// the last bit).
pub struct ObjectFields<'a> {
    scan: PlainScan<'a>,
    /// The whole text, checked as UTF-8 once: strings are cut from it.
    text: &'a str,
    /// Whether the closing brace was read.
    done: bool,
}

impl<'a> ObjectFields<'a> {
    /// Starts reading `data`, which must be one object; `NotPlain` when it does not start as one.
    pub fn new(data: &'a [u8]) -> Result<Self, NotPlain> {
        let text = std::str::from_utf8(data).map_err(|_| NotPlain)?;
        let mut scan = PlainScan { data, at: 0 };
        scan.whitespace();
        if !scan.eat(b'{') {
            return Err(NotPlain);
        }
        scan.whitespace();
        let done = scan.eat(b'}');
        Ok(ObjectFields { scan, text, done })
    }

    /// Appends every field of `data` (one plain object) to `out`; on `NotPlain`, `out` is as
    /// it was.
    pub fn read_all(data: &'a [u8], out: &mut Vec<(&'a str, FieldValue<'a>)>) -> Result<(), NotPlain> {
        let start = out.len();
        let read = ObjectFields::new(data).and_then(|mut fields| {
            while let Some(field) = fields.next_field()? {
                out.push(field);
            }
            Ok(())
        });
        if read.is_err() {
            out.truncate(start);
        }
        read
    }

    /// The next field, `None` after the last one (and nothing but whitespace after the object).
    pub fn next_field(&mut self) -> Result<Option<(&'a str, FieldValue<'a>)>, NotPlain> {
        if self.done {
            return self.end();
        }
        let key = self.text()?;
        Ok(Some((key, self.rest_of_field()?)))
    }

    /// [`Self::next_field`] for a caller that expects the next key to be `expected` (records of
    /// a topic mostly repeat one layout): that key is recognised by comparing its bytes instead
    /// of reading it as a string, and is not cut out of the text ([`Key::Expected`]).
    pub fn next_field_expecting(
        &mut self,
        expected: PlainName<'_>,
    ) -> Result<Option<(Key<'a>, FieldValue<'a>)>, NotPlain> {
        if self.done {
            return self.end();
        }
        let (data, at, name) = (self.scan.data, self.scan.at, expected.0.as_bytes());
        let end = at + 1 + name.len();
        // `"`, the name's bytes, `"`: with no quote, backslash or control character in the name,
        // that is exactly the key the string reading would give.
        let hit = data.get(at) == Some(&b'"') && data.get(at + 1..end) == Some(name) && data.get(end) == Some(&b'"');
        let key = if hit {
            self.scan.at = end + 1;
            Key::Expected
        } else {
            Key::Other(self.text()?)
        };
        let value = self.rest_of_field()?;
        Ok(Some((key, value)))
    }

    /// After the closing brace: nothing but whitespace.
    fn end<T>(&mut self) -> Result<Option<T>, NotPlain> {
        self.scan.whitespace();
        if self.scan.at == self.scan.data.len() {
            Ok(None)
        } else {
            Err(NotPlain)
        }
    }

    /// The colon, value and separator after a key.
    fn rest_of_field(&mut self) -> Result<FieldValue<'a>, NotPlain> {
        self.scan.whitespace();
        if !self.scan.eat(b':') {
            return Err(NotPlain);
        }
        self.scan.whitespace();
        let value = self.value()?;
        self.scan.whitespace();
        if self.scan.eat(b'}') {
            self.done = true;
        } else if self.scan.eat(b',') {
            self.scan.whitespace();
        } else {
            return Err(NotPlain);
        }
        Ok(value)
    }

    /// A string without escapes.
    fn text(&mut self) -> Result<&'a str, NotPlain> {
        // Cut next to ASCII quotes, so always on character boundaries.
        match self.scan.string_span() {
            Some((start, end, false)) => self.text.get(start..end).ok_or(NotPlain),
            _ => Err(NotPlain),
        }
    }

    fn value(&mut self) -> Result<FieldValue<'a>, NotPlain> {
        let data = self.scan.data;
        let start = self.scan.at;
        let scalar = |v| Ok(FieldValue::Scalar(v));
        match self.scan.peek() {
            Some(b'"') => self.text().map(FieldValue::Text),
            Some(b'{' | b'[') if self.scan.value(1) => Ok(FieldValue::Nested(&data[start..self.scan.at])),
            Some(b't') if self.scan.literal(b"true") => scalar(ScalarValue::Boolean(true)),
            Some(b'f') if self.scan.literal(b"false") => scalar(ScalarValue::Boolean(false)),
            Some(b'n') if self.scan.literal(b"null") => scalar(ScalarValue::Null),
            Some(b'-' | b'0'..=b'9') if self.scan.number() => {
                let text = self.text.get(start..self.scan.at).ok_or(NotPlain)?;
                // At most 18 characters: an integer always fits an i64, as `parse` reads it;
                // but serde_json reads `-0` as the double -0.0, so `parse` does too.
                match text.parse::<i64>() {
                    Ok(0) if text.starts_with('-') => scalar(ScalarValue::Float64(-0.0)),
                    Ok(i) => scalar(ScalarValue::Int64(i)),
                    // A fraction: read by serde_json itself, exactly as `parse` reads it.
                    Err(_) => match serde_json::from_str::<f64>(text) {
                        Ok(f) => scalar(ScalarValue::Float64(f)),
                        Err(_) => Err(NotPlain),
                    },
                }
            }
            _ => Err(NotPlain),
        }
    }
}

/// The key of a field read by [`ObjectFields::next_field_expecting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// The key the caller expected.
    Expected,
    /// Another key.
    Other(&'a str),
}

/// A name JSON writes as it is between quotes: no `"`, `\\` or control character (see
/// [`ObjectFields::next_field_expecting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainName<'n>(&'n str);

impl<'n> PlainName<'n> {
    /// `None` when `name` would need escapes in JSON.
    pub fn new(name: &'n str) -> Option<Self> {
        name.bytes().all(|b| !STRING_SPECIAL[usize::from(b)]).then_some(PlainName(name))
    }
}

/// The bytes that end a run of ordinary string content: `"`, `\\` and control characters.
static STRING_SPECIAL: [bool; 256] = {
    let mut special = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        special[byte] = true;
        byte += 1;
    }
    special[b'"' as usize] = true;
    special[b'\\' as usize] = true;
    special
};

/// The bytes of `word` (eight bytes of text, the first in the lowest byte) that
/// [`STRING_SPECIAL`] names, as a mask: the high bit of each such byte is set, and the lowest
/// set bit is exact (the tests above it may also flag a byte after a special one, which is
/// never looked at). Bytes from 0x80 up are not special.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // A byte under `n` (at most 0x80) borrows when `n` is taken from it, and a byte without its
    // high bit set then has it set: the usual "has a byte less than n" test.
    let less_than = |w: u64, n: u64| w.wrapping_sub(ONES * n) & !w & HIGH;
    less_than(word, 0x20)
        | less_than(word ^ (ONES * u64::from(b'"')), 1)
        | less_than(word ^ (ONES * u64::from(b'\\')), 1)
}

/// A cursor over the text for [`plainly_valid`]; each step says whether it read what it must.
struct PlainScan<'a> {
    data: &'a [u8],
    at: usize,
}

impl PlainScan<'_> {
    const MAX_DEPTH: usize = 100;

    fn peek(&self) -> Option<u8> {
        self.data.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => depth < Self::MAX_DEPTH && self.object(depth + 1),
            Some(b'[') => depth < Self::MAX_DEPTH && self.array(depth + 1),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        self.at += 1; // {
        self.whitespace();
        if self.eat(b'}') {
            return true;
        }
        loop {
            if !self.string() {
                return false;
            }
            self.whitespace();
            if !self.eat(b':') {
                return false;
            }
            self.whitespace();
            if !self.value(depth) {
                return false;
            }
            self.whitespace();
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.whitespace();
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        self.at += 1; // [
        self.whitespace();
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            self.whitespace();
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.whitespace();
        }
    }

    fn string(&mut self) -> bool {
        self.string_span().is_some()
    }

    /// A string: where its content starts and ends, and whether it has escapes.
    #[inline(always)]
    fn string_span(&mut self) -> Option<(usize, usize, bool)> {
        if !self.eat(b'"') {
            return None;
        }
        let (data, start) = (self.data, self.at);
        let (mut at, mut escapes) = (start, false);
        loop {
            // Runs of ordinary bytes eight at a time while eight are left, then one at a time:
            // most strings have nothing else.
            while let Some(word) = data.get(at..at + 8).and_then(|eight| eight.try_into().ok()) {
                let special = special_bytes(u64::from_le_bytes(word));
                if special != 0 {
                    at += special.trailing_zeros() as usize / 8;
                    break;
                }
                at += 8;
            }
            while at < data.len() && !STRING_SPECIAL[usize::from(data[at])] {
                at += 1;
            }
            match data.get(at) {
                Some(b'"') => {
                    self.at = at + 1;
                    return Some((start, at, escapes));
                }
                Some(b'\\')
                    if matches!(data.get(at + 1), Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')) =>
                {
                    escapes = true;
                    at += 2;
                }
                _ => return None, // a control character, another escape, or the end
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.data[self.at..].starts_with(word);
        self.at += if found { word.len() } else { 0 };
        found
    }

    fn number(&mut self) -> bool {
        let start = self.at;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.eat(b'.') {
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return false;
            }
            self.digits();
        }
        !matches!(self.peek(), Some(b'e' | b'E')) && self.at - start <= 18
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eight bytes at a time find the first special byte exactly where one at a time does,
    /// whatever byte follows it: every byte value at every place, after ordinary bytes and
    /// before every second byte value.
    #[test]
    fn the_word_scan_finds_the_first_special_byte() {
        let first_special = |word: [u8; 8]| word.iter().position(|&b| STRING_SPECIAL[usize::from(b)]);
        for at in 0..8 {
            for byte in 0..=255u8 {
                for after in [b'a', 0x00, 0x01, 0x1f, b'"', b'\\', 0x7f, 0x80, 0xa0, 0xff] {
                    let mut word = [b'a'; 8];
                    word[at] = byte;
                    word[(at + 1).min(7)] = if at == 7 { byte } else { after };
                    let mask = special_bytes(u64::from_le_bytes(word));
                    let found = (mask != 0).then(|| mask.trailing_zeros() as usize / 8);
                    assert_eq!(found, first_special(word), "{word:02x?}");
                }
            }
        }
    }

    /// The quick scan never accepts what `parse` refuses: checked on plain records and on
    /// hundreds of thousands of mutations of them (bytes replaced, inserted and removed),
    /// and it does accept the plain ones.
    #[test]
    fn the_quick_scan_accepts_only_what_parse_accepts() {
        let seeds: &[&[u8]] = &[
            br#"{"user_id":"user_1","event_type":"click","timestamp":"2025-09-18T10:11:12.345Z","n":-12.5,"ok":true,"none":null}"#,
            br#"{"a":[1,2,{"b":[]},{}],"c":"x\n\"y\" \\ /","d":0,"e":-0.25,"f":false}"#,
            b" [ \"caf\xc3\xa9\" , 123456789012345678 , -1 ] ",
        ];
        for seed in seeds {
            assert!(plainly_valid(seed), "{}", String::from_utf8_lossy(seed));
        }
        let alphabet = b"{}[]:,\"\\ -+.0123456789eEtrufalsn\x01\x7f\xc3\xa9\xff/u";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let (mut accepted, mut tried) = (0, 0);
        for seed in seeds {
            for _ in 0..100_000 {
                let mut doc = seed.to_vec();
                for _ in 0..1 + next(3) {
                    let at = next(doc.len() + 1);
                    let byte = alphabet[next(alphabet.len())];
                    match next(3) {
                        0 if at < doc.len() => doc[at] = byte,
                        1 if at < doc.len() => {
                            doc.remove(at);
                        }
                        _ => doc.insert(at, byte),
                    }
                }
                tried += 1;
                if plainly_valid(&doc) {
                    accepted += 1;
                    assert!(parse(&doc).is_ok(), "accepted but refused by parse: {}", String::from_utf8_lossy(&doc));
                }
            }
        }
        assert!(accepted > tried / 20, "the mutations must include valid documents: {accepted} of {tried}");
        // Numbers that overflow a double: refused by parse, so never plainly valid.
        for huge in [format!("1{}", "0".repeat(400)), format!("[-1{}.5]", "0".repeat(400)), "[1e999]".to_owned()] {
            assert!(parse(huge.as_bytes()).is_err() && !plainly_valid(huge.as_bytes()), "{huge}");
        }
    }

    /// Fields read expecting keys are the fields read plainly: on a record, on records whose
    /// keys differ from the expected ones in every way that matters (prefix, escape, order,
    /// spacing), and on thousands of mutations of them.
    #[test]
    fn fields_read_expecting_keys_are_the_fields_read_plainly() {
        // Values as their debug text: the closures cannot lend out the document.
        let plainly = |doc: &[u8]| -> Result<Vec<(String, String)>, NotPlain> {
            let mut fields = ObjectFields::new(doc)?;
            let mut out = Vec::new();
            while let Some((k, v)) = fields.next_field()? {
                out.push((k.to_owned(), format!("{v:?}")));
            }
            Ok(out)
        };
        let names = ["user_id", "event_type", "n", "a"].map(|n| PlainName::new(n).unwrap());
        let expecting = |doc: &[u8]| -> Result<(Vec<(String, String)>, usize), NotPlain> {
            let mut fields = ObjectFields::new(doc)?;
            let (mut out, mut hits) = (Vec::new(), 0);
            while let Some((k, v)) = fields.next_field_expecting(names[out.len() % names.len()])? {
                let k = match k {
                    Key::Expected => {
                        hits += 1;
                        names[out.len() % names.len()].0
                    }
                    Key::Other(k) => k,
                };
                out.push((k.to_owned(), format!("{v:?}")));
            }
            Ok((out, hits))
        };
        let seeds: &[&[u8]] = &[
            br#"{"user_id":"u1","event_type":"click","n":-12.5,"a":[1,{"b":2}]}"#,
            br#"{"user_id2":"u1","event_typ":"click", "n" : 1,"a\"":null}"#,
            br#"{"event_type":"x","user_id":"y","a":"z","n":true}"#,
        ];
        let (mut state, mut total_hits) = (0x9e37_79b9_7f4a_7c15u64, 0);
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let alphabet = b"{}[]:,\" \\\x01ua_eitdn0123";
        for seed in seeds {
            for round in 0..20_000 {
                let mut doc = seed.to_vec();
                for _ in 0..usize::from(round > 0) * (1 + next(2)) {
                    let at = next(doc.len());
                    doc[at] = alphabet[next(alphabet.len())];
                }
                let (plain, expected) = (plainly(&doc), expecting(&doc));
                assert_eq!(
                    plain,
                    expected.map(|(fields, hits)| {
                        total_hits += hits;
                        fields
                    }),
                    "{}",
                    String::from_utf8_lossy(&doc)
                );
            }
        }
        assert!(total_hits > 10_000, "many keys are the expected ones: {total_hits} hits");
        assert_eq!(PlainName::new("a\"b"), None);
        assert_eq!(PlainName::new("a\\b"), None);
        assert_eq!(PlainName::new("tab\there"), None);
        assert!(PlainName::new("caf\u{e9} ok").is_some());
    }
}
