//! Records to rows: [`ClickhouseRowBatch`] matches a record's fields to a table's columns by
//! name and appends one RowBinary row per record.
//!
//! A field the record does not carry is left out of the insert, so ClickHouse fills the column
//! from its `DEFAULT` (or the type's default). RowBinary on 18.16 cannot say "use the default"
//! for a single row, so rows are grouped by the set of columns they carry and each group
//! becomes its own `INSERT` naming exactly those columns — usually there is just one.
//!
//! The Kafka coordinate columns `_topic`, `_partition` and `_offset` (the names of the Kafka
//! table engine's virtual columns) are filled from where each record was read, unless the
//! record carries a field of that name. Exactly-once delivery reads them back.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use sluice_api::json::PlainName;
use sluice_api::{ConnectError, Result, SchemaRef, SinkRecord, Value};

use crate::encode::{encode_nested_column, encode_value};
use crate::service::ClickhouseInsert;
use crate::table::ClickhouseTable;
use crate::types::ClickhouseType;

/// Column holding the topic a row was read from.
pub const TOPIC_COLUMN: &str = "_topic";
/// Column holding the partition a row was read from.
pub const PARTITION_COLUMN: &str = "_partition";
/// Column holding the offset a row was read from.
pub const OFFSET_COLUMN: &str = "_offset";

/// Where a record was read from: what the coordinate columns get.
#[derive(Debug, Clone, Copy)]
pub struct Coordinates<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// A set of column indexes, as a bitset, identifying one insert's column list. The first 64
/// columns have a word of their own: each row's set is compared with the row before's, and a
/// table rarely has more, so that compare is one word (a `Vec` of one word was a `memcmp`
/// call).
#[derive(Debug, Clone, Default)]
struct ColumnSet {
    low: u64,
    /// Columns 64 and up, 64 to a word; empty for tables of up to 64 columns.
    high: Vec<u64>,
}

impl PartialEq for ColumnSet {
    fn eq(&self, other: &Self) -> bool {
        // The empty `high` words are not compared as slices: glibc's `memcmp` reads even zero
        // bytes with a masked vector load, and at an empty `Vec`'s dangling address that load
        // takes a fault-suppression assist costing hundreds of cycles. That was 6 % of the
        // JSON → ClickHouse worker (perf), once per row.
        self.low == other.low
            && self.high.len() == other.high.len()
            && (self.high.is_empty() || self.high == other.high)
    }
}

impl Eq for ColumnSet {}

impl std::hash::Hash for ColumnSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.low.hash(state);
        self.high.hash(state);
    }
}

impl ColumnSet {
    /// An empty set with room for `columns` columns.
    fn with_room(columns: usize) -> Self {
        ColumnSet { low: 0, high: vec![0; columns.saturating_sub(1) / 64] }
    }

    fn clear(&mut self) {
        self.low = 0;
        self.high.iter_mut().for_each(|w| *w = 0);
    }

    fn insert(&mut self, i: usize) {
        if i < 64 {
            self.low |= 1 << i;
            return;
        }
        let w = i / 64 - 1;
        if self.high.len() <= w {
            self.high.resize(w + 1, 0);
        }
        self.high[w] |= 1 << (i % 64);
    }

    /// Members in ascending order: the column order of the insert and of each row.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        // One step per member (lowest set bit first), not one per bit of each word.
        std::iter::once(&self.low).chain(&self.high).enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                let b = (rest != 0).then(|| rest.trailing_zeros() as usize)?;
                rest &= rest - 1;
                Some(w * 64 + b)
            })
        })
    }
}

/// Rows that name the same columns, encoded back to back.
struct RowGroup {
    columns: ColumnSet,
    data: Vec<u8>,
    rows: usize,
    /// Where each row was read from and where it ends in `data` (rows pushed as records).
    sources: Vec<RowSource>,
}

/// Where one encoded row came from, and where its bytes end: lets a held insert be sent again
/// without the rows that already landed.
#[derive(Debug, Clone)]
pub struct RowSource {
    /// The topic, as its index in the insert's `topics` (a reference-counted name per row
    /// was two atomic operations per record).
    pub topic: usize,
    pub partition: i32,
    pub offset: i64,
    /// End of the row in the insert's data.
    pub end: usize,
}

/// Rows for one table, grouped by the columns they carry.
pub struct ClickhouseRowBatch<'t> {
    table: &'t ClickhouseTable,
    groups: Vec<RowGroup>,
    group_of: HashMap<ColumnSet, usize>,
    /// Per column: position of its value in the current record (struct field or map entry).
    positions: Vec<Option<usize>>,
    /// Columns the current record carries.
    present: ColumnSet,
    /// Column → field index for the last struct schema seen; records of a topic share one.
    struct_fields: Option<(SchemaRef, Vec<Option<usize>>)>,
    /// Per column of a flattened `Nested` (`n.a Array(T)`): the record field holding the
    /// array of objects (`n`) and the element field (`a`).
    nested: Vec<Option<(String, String)>>,
    /// Record fields that match no column.
    unknown_fields: BTreeSet<String>,
    /// Indexes of the `_topic`, `_partition` and `_offset` columns, when the table has them.
    coordinate_columns: [Option<usize>; 3],
    /// The last topic written to `_topic`, as a value (topics rarely change within a batch).
    topic_value: Value,
    /// The group of the row pushed last.
    last_group: Option<usize>,
    /// The number of entries of the previous map value, when each of them matched a column
    /// (see `map_layout_repeats`).
    map_layout: Option<usize>,
    /// Whether rows may be made straight from JSON text and datums (`rows_lane.rs`): not for a
    /// table with `Nested` columns, whose fields the value path projects.
    lane: bool,
    /// The current lane record's encoded fields, in the order read.
    scratch: Vec<u8>,
    /// Per column: what the current lane record gave it.
    lane_fields: Vec<LaneField>,
    /// The column of each key (or field) of the previous lane record, by position.
    key_columns: Vec<Option<usize>>,
    /// The reader of the last datum, and the column of each of its fields.
    datum_reader: Option<Arc<dyn sluice_api::DatumReader>>,
    datum_columns: Vec<Option<usize>>,
    /// Per column, its name when JSON writes it without escapes: a key can be recognised as it
    /// by comparing bytes (`ObjectFields::next_field_expecting`).
    plain_names: Vec<Option<PlainName<'t>>>,
    /// How many rows the batch expects ([`ClickhouseRowBatch::expecting`]).
    expected_rows: usize,
    /// The topics of the rows pushed as records, which their `RowSource`s name by index.
    topics: Vec<Arc<str>>,
}

/// The most [`ClickhouseRowBatch::expecting`] reserves for rows up front.
const MAX_RESERVED_BYTES: usize = 64 << 20;

impl<'t> ClickhouseRowBatch<'t> {
    /// An empty batch for `table`.
    pub fn new(table: &'t ClickhouseTable) -> Self {
        ClickhouseRowBatch {
            table,
            groups: Vec::new(),
            group_of: HashMap::new(),
            positions: Vec::new(),
            // Sized for the table up front so equal sets always compare equal.
            present: ColumnSet::with_room(table.columns.len()),
            struct_fields: None,
            nested: table.columns.iter().map(|c| nested_parts(&c.name, &c.ty)).collect(),
            unknown_fields: BTreeSet::new(),
            coordinate_columns: [TOPIC_COLUMN, PARTITION_COLUMN, OFFSET_COLUMN].map(|name| table.column_index(name)),
            topic_value: Value::Null,
            last_group: None,
            map_layout: None,
            lane: table.columns.iter().all(|c| nested_parts(&c.name, &c.ty).is_none()),
            scratch: Vec::new(),
            lane_fields: Vec::new(),
            key_columns: Vec::new(),
            datum_reader: None,
            datum_columns: Vec::new(),
            plain_names: table.columns.iter().map(|c| PlainName::new(&c.name)).collect(),
            expected_rows: 0,
            topics: Vec::new(),
        }
    }

    /// Expects about `rows` rows: the first group makes room for that many rows the size of its
    /// first, instead of growing (and copying what it holds) a dozen times over a batch.
    pub fn expecting(mut self, rows: usize) -> Self {
        self.expected_rows = rows;
        self
    }

    /// Appends the row for one record value (a struct or a schemaless map). On error nothing
    /// is appended, so the caller may skip the record and go on.
    pub fn push(&mut self, value: &Value) -> Result<()> {
        self.push_with(value, None).map(|_| ())
    }

    /// Appends the row for one record, with its Kafka coordinates in the coordinate columns,
    /// and keeps where it came from (see `ClickhouseInsert::without_rows`: a held insert is
    /// sent again without the rows of partitions this task no longer owns, or that landed).
    pub fn push_record(&mut self, record: &SinkRecord) -> Result<()> {
        let at =
            Coordinates { topic: &record.original_topic, partition: record.original_partition, offset: record.offset };
        let laned = match (&record.value_json, &record.value_datum) {
            (Some(text), _) => self.push_json(text, at),
            (None, Some(datum)) => self.push_datum(datum, at),
            (None, None) => None,
        };
        let g = match laned {
            Some(g) => g,
            None => self.push_with(&*record.decoded_value()?, Some(at))?,
        };
        let topic = self.topic_index(&record.original_topic);
        let first_of_batch = self.groups.len() == 1 && self.groups[g].rows == 1;
        let group = &mut self.groups[g];
        if first_of_batch && self.expected_rows > 1 {
            let more = self.expected_rows - 1;
            group.data.reserve(group.data.len().saturating_mul(more).min(MAX_RESERVED_BYTES));
            group.sources.reserve(more);
        }
        group.sources.push(RowSource {
            topic,
            partition: record.original_partition,
            offset: record.offset,
            end: group.data.len(),
        });
        Ok(())
    }

    /// The index of `topic` in `topics`, added if new (a batch mostly holds one topic).
    fn topic_index(&mut self, topic: &Arc<str>) -> usize {
        match self.topics.iter().rposition(|t| Arc::ptr_eq(t, topic) || **t == **topic) {
            Some(k) => k,
            None => {
                self.topics.push(topic.clone());
                self.topics.len() - 1
            }
        }
    }

    /// Appends one row; the index of the group it went to.
    fn push_with(&mut self, value: &Value, at: Option<Coordinates<'_>>) -> Result<usize> {
        self.resolve_fields(value)?;
        // The coordinate columns the record does not fill itself, as values.
        let mut coordinates: [Option<Value>; 3] = [None, None, None];
        if let Some(at) = at {
            for (k, column) in self.coordinate_columns.into_iter().enumerate() {
                if column.is_some_and(|i| self.positions[i].is_none()) {
                    // The topic is read from `topic_value`, which owns the text.
                    coordinates[k] = Some(self.coordinate_value(k, at).unwrap_or(Value::Null));
                }
            }
        }
        let coordinate = |i: usize| -> Option<&Value> {
            let k = self.coordinate_columns.iter().position(|c| *c == Some(i))?;
            match (k, &coordinates[k]) {
                (_, None) => None,
                (0, Some(_)) => Some(&self.topic_value),
                (_, Some(v)) => Some(v),
            }
        };
        let columns = &self.table.columns;
        self.present.clear();
        for (i, column) in columns.iter().enumerate() {
            let v = match self.positions[i] {
                Some(pos) => value_at(value, pos),
                None if coordinate(i).is_some() => {
                    self.present.insert(i);
                    continue;
                }
                None => continue,
            };
            if v.is_null() && !column.is_nullable() {
                // Like ClickHouse's own `input_format_null_as_default`: a null for a column
                // that cannot hold one leaves the column out, so it gets its DEFAULT (or the
                // type's default). Optional fields of schema'd records arrive this way.
                continue;
            }
            self.present.insert(i);
        }
        if self.present.iter().all(|i| coordinate(i).is_some()) {
            return Err(ConnectError::data(format!(
                "None of the record's fields match a column of {}; check `topic2TableMap` and the field names (they are case-sensitive).",
                self.table.qualified_name()
            )));
        }
        let g = group_for(&mut self.groups, &mut self.group_of, &mut self.last_group, &self.present);
        let group = &mut self.groups[g];
        let start = group.data.len();
        for i in group.columns.iter() {
            let column = &columns[i];
            let source = match self.positions[i] {
                Some(pos) => Some(value_at(value, pos)),
                None => coordinate(i),
            };
            // A flattened Nested column reads its element field from the record's array field
            // (unless the record carries the dotted name itself).
            let projected = match (&self.nested[i], self.positions[i]) {
                (Some((parent, child)), Some(pos)) if value_field_name(value, pos) == Some(parent.as_str()) => {
                    Some(child)
                }
                _ => None,
            };
            let encoded = match (&column.ty, source) {
                (Ok(ty), Some(v)) if projected.is_some() => {
                    encode_nested_column(&mut group.data, ty, v, projected.map_or("", String::as_str))
                        .map_err(|e| e.for_column(&column.name))
                }
                (Ok(ty), Some(v)) => encode_value(&mut group.data, ty, v).map_err(|e| e.for_column(&column.name)),
                (Err(e), _) => Err(ConnectError::data(format!(
                    "Column `{}`: {e}; leave the field out of the records.",
                    column.name
                ))),
                (Ok(_), None) => Ok(()), // not in `present`
            };
            if let Err(e) = encoded {
                group.data.truncate(start);
                return Err(e);
            }
        }
        group.rows += 1;
        Ok(g)
    }

    /// Coordinate `k` (0: topic, 1: partition, 2: offset) of a record read from `at`. The topic
    /// is kept in `topic_value` (topics rarely change within a batch) and read from there:
    /// `None` stands for it.
    fn coordinate_value(&mut self, k: usize, at: Coordinates<'_>) -> Option<Value> {
        match k {
            0 => {
                if !matches!(&self.topic_value, Value::String(t) if t == at.topic) {
                    self.topic_value = Value::String(at.topic.into());
                }
                None
            }
            1 => Some(Value::Int32(at.partition)),
            _ => Some(Value::Int64(at.offset)),
        }
    }

    /// Fills `positions` for `value`'s fields, noting fields that match no column.
    fn resolve_fields(&mut self, value: &Value) -> Result<()> {
        let columns = &self.table.columns;
        if let Value::Map(entries) = value {
            if self.map_layout_repeats(entries) {
                return Ok(());
            }
        }
        self.map_layout = None;
        self.positions.clear();
        self.positions.resize(columns.len(), None);
        match value {
            Value::Struct(s) => {
                let cached = self.struct_fields.as_ref().filter(|(schema, _)| Arc::ptr_eq(schema, &s.schema));
                if cached.is_none() {
                    let mapping = columns
                        .iter()
                        .zip(&self.nested)
                        .map(|(c, nested)| {
                            let own = s.schema.field(&c.name);
                            let parent = || nested.as_ref().and_then(|(parent, _)| s.schema.field(parent));
                            own.or_else(parent).map(|f| f.index)
                        })
                        .collect();
                    for field in &s.schema.fields {
                        if !self.is_column_or_nested_parent(&field.name) {
                            self.unknown_fields.insert(field.name.clone());
                        }
                    }
                    self.struct_fields = Some((s.schema.clone(), mapping));
                }
                if let Some((_, mapping)) = &self.struct_fields {
                    self.positions.copy_from_slice(mapping);
                }
            }
            Value::Map(entries) if !entries.is_empty() => {
                // Fields usually come in column order: search from just after the last match.
                let (mut hint, mut matched) = (0, 0);
                let is_named = |j: usize, name: &str| matches!(&entries[j].0, Value::String(key) if key == name);
                for (i, column) in columns.iter().enumerate() {
                    let found =
                        (hint..entries.len()).chain(0..hint.min(entries.len())).find(|&j| is_named(j, &column.name));
                    if let Some(j) = found {
                        self.positions[i] = Some(j);
                        hint = j + 1;
                        matched += 1;
                    } else if let Some((parent, _)) = &self.nested[i] {
                        self.positions[i] =
                            entries.iter().position(|(k, _)| matches!(k, Value::String(key) if key == parent));
                    }
                }
                if matched == entries.len() && self.nested.iter().all(Option::is_none) {
                    self.map_layout = Some(entries.len());
                }
                if matched < entries.len() {
                    for (key, _) in entries {
                        match key {
                            Value::String(k) if self.is_column_or_nested_parent(k) => {}
                            Value::String(k) => {
                                self.unknown_fields.insert(k.to_string());
                            }
                            other => {
                                self.unknown_fields.insert(format!("<{} key>", other.type_name()));
                            }
                        }
                    }
                }
            }
            Value::Map(_) => {}
            other => {
                return Err(ConnectError::data(format!(
                    "The record value is a {}; the ClickHouse sink needs a struct or a JSON object whose fields are named like the columns of {}.",
                    other.type_name(),
                    self.table.qualified_name()
                )))
            }
        }
        Ok(())
    }

    /// Whether `entries` are laid out as the previous map's, whose every entry matched a
    /// column: each column then finds its field where it did before (a field name in a map
    /// repeated in record after record), and a column that found none still finds none, as
    /// every entry is some other column's. Then `positions` stay as they are.
    fn map_layout_repeats(&self, entries: &[(Value, Value)]) -> bool {
        self.map_layout == Some(entries.len())
            && self.table.columns.iter().zip(&self.positions).all(|(column, position)| match position {
                Some(j) => matches!(&entries[*j].0, Value::String(key) if *key == column.name),
                None => true,
            })
    }

    /// Whether a record field named `name` goes into some column.
    fn is_column_or_nested_parent(&self, name: &str) -> bool {
        self.table.column_index(name).is_some() || self.nested.iter().flatten().any(|(parent, _)| parent == name)
    }

    /// Rows appended so far.
    pub fn rows(&self) -> usize {
        self.groups.iter().map(|g| g.rows).sum()
    }

    /// Record fields seen that match no column (they are ignored).
    pub fn unknown_fields(&self) -> &BTreeSet<String> {
        &self.unknown_fields
    }

    /// One insert per group of rows carrying the same columns.
    pub fn into_inserts(self) -> Vec<ClickhouseInsert> {
        let table = self.table;
        self.groups
            .into_iter()
            .filter(|g| g.rows > 0)
            .map(|g| ClickhouseInsert {
                table: table.qualified_name(),
                sql: table.insert_sql(g.columns.iter()),
                data: Bytes::from(g.data),
                rows: g.rows,
                topics: self.topics.clone(),
                sources: g.sources,
            })
            .collect()
    }
}

/// The group of rows carrying the columns in `present`, made if new (`last` is the group of
/// the row before).
fn group_for(
    groups: &mut Vec<RowGroup>,
    group_of: &mut HashMap<ColumnSet, usize>,
    last: &mut Option<usize>,
    present: &ColumnSet,
) -> usize {
    // Rows of a batch mostly fill the same columns as the row before.
    let same = last.filter(|&g| groups[g].columns == *present);
    let g = match same.or_else(|| group_of.get(present).copied()) {
        Some(g) => g,
        None => {
            groups.push(RowGroup { columns: present.clone(), data: Vec::new(), rows: 0, sources: Vec::new() });
            group_of.insert(present.clone(), groups.len() - 1);
            groups.len() - 1
        }
    };
    *last = Some(g);
    g
}

/// For a flattened `Nested` column (`n.a` of type `Array(T)`), the record field holding the
/// array of objects and the element field: `("n", "a")`.
fn nested_parts(
    name: &str,
    ty: &std::result::Result<ClickhouseType, crate::types::TypeParseError>,
) -> Option<(String, String)> {
    let (parent, child) = name.split_once('.')?;
    matches!(ty, Ok(ClickhouseType::Array(_))).then(|| (parent.to_owned(), child.to_owned()))
}

/// The name of the field at `pos` of a struct or map, if it has one.
fn value_field_name(value: &Value, pos: usize) -> Option<&str> {
    match value {
        Value::Struct(s) => s.schema.fields.get(pos).map(|f| f.name.as_str()),
        Value::Map(entries) => match entries.get(pos) {
            Some((Value::String(k), _)) => Some(k),
            _ => None,
        },
        _ => None,
    }
}

/// The value at `pos`: a struct's field index or a map's entry index.
fn value_at(value: &Value, pos: usize) -> &Value {
    match value {
        Value::Struct(s) => s.values.get(pos).unwrap_or(&Value::Null),
        Value::Map(entries) => entries.get(pos).map(|(_, v)| v).unwrap_or(&Value::Null),
        _ => &Value::Null,
    }
}

#[path = "rows_lane.rs"]
mod lane;
use lane::LaneField;

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
