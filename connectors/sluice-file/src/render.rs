//! A Connect value as text, the way Kafka Connect's `FileStreamSinkTask` prints it:
//! `PrintStream.println(record.value())`, i.e. `String.valueOf` of the Java object the
//! converter made. This is not `Values.convertToString` (`sluice_api::coerce::connect_string`,
//! which quotes strings inside containers); the two share the Java number text, which stays in
//! `sluice_api::coerce`.
//!
//! What the JVM prints, and what is written here:
//! - `null` as `null`; strings as they are (a newline inside one ends the line early there too).
//! - `Struct.toString`: `Struct{name=value,name=value}`; fields whose value is null are left out.
//! - `ArrayList`: `[a, b]`. `HashMap`: `{k=v, k=v}` in the `HashMap`'s iteration order, which
//!   [`java_map_order`] reproduces for the maps converters build (a new `HashMap` filled in
//!   the order of the input) with string, number, boolean, date or null keys; maps with other
//!   keys keep their input order.
//! - numbers as `Integer`/`Long`/`Float`/`Double`/`BigDecimal.toString` (`1.0E10`, `0E-9`).
//! - Date, Time and Timestamp are `java.util.Date`: `Thu Sep 18 10:30:00 UTC 2025`, in UTC (the
//!   JVM prints its default time zone; Kafka Connect's are usually UTC).
//! - Bytes: the JVM prints the array's identity (`[B@1b6d3586`), which changes with every run
//!   and says nothing about the data; they are written in base64 instead.

use std::io::Write as _;

use chrono::DateTime;
use sluice_api::coerce::connect_string;
use sluice_api::Value;

/// Appends `value` as Java's `String.valueOf` renders the object Kafka Connect holds for it.
pub fn write_java_string(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Struct(s) => {
            out.extend_from_slice(b"Struct{");
            let mut first = true;
            for (name, v) in s.iter().filter(|(_, v)| !v.is_null()) {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                write_java_string(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_java_string(item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            let order = java_map_order(entries).unwrap_or_else(|| (0..entries.len()).collect());
            for (i, &index) in order.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                let (k, v) = &entries[index];
                write_java_string(k, out);
                out.push(b'=');
                write_java_string(v, out);
            }
            out.push(b'}');
        }
        Value::Int8(v) => write_display(*v, out),
        Value::Int16(v) => write_display(*v, out),
        Value::Int32(v) => write_display(*v, out),
        Value::Int64(v) => write_display(*v, out),
        Value::Boolean(v) => write_display(*v, out),
        Value::Date(days) => write_java_date(i64::from(*days) * MILLIS_PER_DAY, out),
        Value::Time(ms) => write_java_date(i64::from(*ms), out),
        Value::Timestamp(ms) => write_java_date(*ms, out),
        // Floats (`Float`/`Double.toString`), decimals (`BigDecimal.toString`), bytes (base64).
        Value::Float32(_) | Value::Float64(_) | Value::Decimal { .. } | Value::Bytes(_) => {
            out.extend_from_slice(connect_string(value).as_bytes())
        }
    }
}

/// The text of [`write_java_string`].
pub fn java_string(value: &Value) -> String {
    let mut out = Vec::new();
    write_java_string(value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

const MILLIS_PER_DAY: i64 = 86_400_000;

fn write_display(v: impl std::fmt::Display, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// `java.util.Date.toString` (`EEE MMM dd HH:mm:ss zzz yyyy`) in UTC.
fn write_java_date(ms: i64, out: &mut Vec<u8>) {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => write_display(t.format("%a %b %d %H:%M:%S UTC %Y"), out),
        None => write_display(ms, out),
    }
}

// ---------------------------------------------------------------------------------------------
// java.util.HashMap's iteration order

/// `HashMap`'s initial table size, and the slot length that asks for a bigger table while the
/// table is smaller than `MIN_TREEIFY_CAPACITY` (and turns the slot into a tree from there on).
const INITIAL_CAPACITY: usize = 16;
const TREEIFY_LENGTH: usize = 9;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// The order in which a `new HashMap<>()` filled with `entries`, in order, iterates them: by
/// table slot, and within a slot in insertion order. `None` when a key has no known Java hash
/// code (structs, arrays, maps, bytes, decimals as keys).
///
/// The table doubles past 3/4 full, and also when one slot collects 9 keys while the table is
/// smaller than 64 (`treeifyBin`); a slot that collects 9 keys in a larger table becomes a tree,
/// whose later insertions are ordered by the tree, not reproduced here (it needs 9 keys
/// colliding in one slot of 64 or more).
pub fn java_map_order(entries: &[(Value, Value)]) -> Option<Vec<usize>> {
    let hashes = entries.iter().map(|(k, _)| java_hash_code(k).map(spread)).collect::<Option<Vec<u32>>>()?;
    // Replays HashMap.putVal for each key: only the table's final size matters for the order.
    let mut capacity = INITIAL_CAPACITY;
    let mut slot_lengths = vec![0usize; capacity];
    for (index, &hash) in hashes.iter().enumerate() {
        let slot = hash as usize & (capacity - 1);
        slot_lengths[slot] += 1;
        let crowded = slot_lengths[slot] >= TREEIFY_LENGTH && capacity < MIN_TREEIFY_CAPACITY;
        for grow in [crowded, index + 1 > capacity / 4 * 3] {
            if grow {
                capacity *= 2;
                slot_lengths = vec![0; capacity];
                for &h in &hashes[..=index] {
                    slot_lengths[h as usize & (capacity - 1)] += 1;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| hashes[i] as usize & (capacity - 1));
    Some(order)
}

/// `HashMap.hash`: the hash code's high half folded into the low half.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// `hashCode()` of the Java object a converter makes for `value`, for the key types whose
/// hash code is defined by their value.
fn java_hash_code(value: &Value) -> Option<i32> {
    Some(match value {
        Value::Null => 0,
        Value::String(s) => s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit))),
        Value::Int8(v) => i32::from(*v),
        Value::Int16(v) => i32::from(*v),
        Value::Int32(v) => *v,
        Value::Boolean(v) => {
            if *v {
                1231
            } else {
                1237
            }
        }
        // Long.hashCode and Date.hashCode (of its milliseconds) fold the same way.
        Value::Int64(v) | Value::Timestamp(v) => long_hash(*v),
        Value::Date(days) => long_hash(i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(ms) => long_hash(i64::from(*ms)),
        Value::Float32(v) => (if v.is_nan() { 0x7fc0_0000 } else { v.to_bits() }) as i32,
        Value::Float64(v) => long_hash((if v.is_nan() { 0x7ff8_0000_0000_0000 } else { v.to_bits() }) as i64),
        _ => return None,
    })
}

fn long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, SchemaType, Struct};

    use super::*;

    fn structure(fields: &[(&str, SchemaType)], values: Vec<Value>) -> Value {
        let schema = Schema::structure(fields.iter().map(|(n, t)| (*n, Schema::new(*t).into_ref()))).into_ref();
        Value::Struct(Struct { schema, values })
    }

    fn map<K: Into<Value>>(entries: Vec<(K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    // The expected strings below were printed by Kafka 4.3.1's JsonConverter and
    // `String.valueOf` on a JVM in UTC (the converter's input is in each comment).

    #[test]
    fn structs_leave_out_null_fields() {
        // {"a":"x y","b":null,"c":"q\"z"}
        let s = structure(
            &[("a", SchemaType::String), ("b", SchemaType::Int32), ("c", SchemaType::String)],
            vec!["x y".into(), Value::Null, "q\"z".into()],
        );
        assert_eq!(java_string(&s), "Struct{a=x y,c=q\"z}");
        let empty = structure(&[("b", SchemaType::Int32)], vec![Value::Null]);
        assert_eq!(java_string(&empty), "Struct{}");
    }

    #[test]
    fn numbers_print_as_java_boxes_do() {
        // {"d":1e10,"f":1.5,"t":true,"l":-5,"i8":3}
        let s = structure(
            &[
                ("d", SchemaType::Float64),
                ("f", SchemaType::Float32),
                ("t", SchemaType::Boolean),
                ("l", SchemaType::Int64),
                ("i8", SchemaType::Int8),
            ],
            vec![Value::Float64(1e10), Value::Float32(1.5), Value::Boolean(true), Value::Int64(-5), Value::Int8(3)],
        );
        assert_eq!(java_string(&s), "Struct{d=1.0E10,f=1.5,t=true,l=-5,i8=3}");
        let doubles = Value::Array([1.0, 0.0001, 1e-5, 123456789.0, 1e7].map(Value::Float64).to_vec());
        assert_eq!(java_string(&doubles), "[1.0, 1.0E-4, 1.0E-5, 1.23456789E8, 1.0E7]");
        assert_eq!(java_string(&Value::Float32(0.1)), "0.1");
        assert_eq!(java_string(&Value::Float64(100.0)), "100.0");
        assert_eq!(java_string(&Value::Decimal { unscaled: 0, scale: 9 }), "0E-9");
        assert_eq!(java_string(&Value::Decimal { unscaled: 12345, scale: 2 }), "123.45");
    }

    #[test]
    fn containers_nest_with_their_own_separators() {
        // {"arr":["a","b"],"m":{"k1":1,"k2":2},"s":{"n":"in"}}
        let inner = structure(&[("n", SchemaType::String)], vec!["in".into()]);
        let s = structure(
            &[("arr", SchemaType::Array), ("m", SchemaType::Map), ("s", SchemaType::Struct)],
            vec![
                Value::Array(vec!["a".into(), "b".into()]),
                map(vec![("k1", Value::Int32(1)), ("k2", Value::Int32(2))]),
                inner,
            ],
        );
        assert_eq!(java_string(&s), "Struct{arr=[a, b],m={k1=1, k2=2},s=Struct{n=in}}");
        let x = |v| structure(&[("x", SchemaType::Int32)], vec![Value::Int32(v)]);
        let ss = structure(&[("ss", SchemaType::Array)], vec![Value::Array(vec![x(1), x(2)])]);
        assert_eq!(java_string(&ss), "Struct{ss=[Struct{x=1}, Struct{x=2}]}");
        // schemaless {"b":1,"a":2.5,"c":[1,"x",null,true],"d":{"z":1,"y":{}}}
        let schemaless = map(vec![
            ("b", Value::Int64(1)),
            ("a", Value::Float64(2.5)),
            ("c", Value::Array(vec![Value::Int64(1), "x".into(), Value::Null, Value::Boolean(true)])),
            ("d", map(vec![("z", Value::Int64(1)), ("y", Value::Map(vec![]))])),
        ]);
        assert_eq!(java_string(&schemaless), "{a=2.5, b=1, c=[1, x, null, true], d={y={}, z=1}}");
        assert_eq!(java_string(&Value::Null), "null");
        assert_eq!(java_string(&"multi\nline".into()), "multi\nline");
    }

    #[test]
    fn maps_iterate_in_hash_map_order() {
        // "Aa" and "BB" share a hash code: one slot, insertion order.
        let m = map(["zz", "b", "a", "Aa", "BB"]
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, Value::Int32(i as i32 + 1)))
            .collect());
        assert_eq!(java_string(&m), "{zz=1, Aa=4, BB=5, a=3, b=2}");
        let ints = Value::Map(vec![
            (Value::Int32(100), "a".into()),
            (Value::Int32(2), Value::Null),
            (Value::Int32(17), "c".into()),
        ]);
        assert_eq!(java_string(&ints), "{17=c, 2=null, 100=a}");
        // 28 keys: the table grows from 16 to 32 to 64 slots.
        let mut keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        keys.extend(["user_id", "event_type", "timestamp", "session_id", "device", "x", "Aa", "BB"].map(String::from));
        let big = map(keys.into_iter().enumerate().map(|(i, k)| (k, Value::Int64(i as i64))).collect());
        assert_eq!(
            java_string(&big),
            "{Aa=26, BB=27, k11=11, k10=10, k13=13, k12=12, k15=15, k14=14, k17=17, k16=16, k19=19, k18=18, \
             event_type=21, timestamp=22, k0=0, k1=1, k2=2, k3=3, k4=4, session_id=23, k5=5, k6=6, k7=7, k8=8, \
             k9=9, user_id=20, x=25, device=24}"
        );
        // A key type without a known hash code keeps the input order.
        let odd = Value::Map(vec![(Value::Bytes(b"b".to_vec().into()), Value::Null), (Value::from("a"), Value::Null)]);
        assert_eq!(java_string(&odd), "{Yg===null, a=null}");
    }

    #[test]
    fn a_crowded_slot_grows_a_small_table() {
        // Nine keys in slot 0 of 16: HashMap doubles the table (it makes trees only from 64
        // slots on), far from 3/4 full; odd keys move to slot 16. Printed by a JVM's HashMap.
        let crowded = |extra: Option<i32>| {
            let mut entries: Vec<(Value, Value)> = (0..9).map(|i| (Value::Int32(i << 20), Value::Int32(i))).collect();
            entries.extend(extra.map(|k| (Value::Int32(k), "x".into())));
            java_string(&Value::Map(entries))
        };
        let nine = "0=0, 2097152=2, 4194304=4, 6291456=6, 8388608=8, 1048576=1, 3145728=3, 5242880=5, 7340032=7";
        assert_eq!(crowded(None), format!("{{{nine}}}"));
        assert_eq!(crowded(Some(17)), format!("{{{nine}, 17=x}}"));
        // Thirteen keys: past 3/4 of 16, the table doubles once.
        let thirteen = map((0..=12).rev().map(|i| (format!("f{}", i * 7), Value::Int32(i))).collect());
        assert_eq!(
            java_string(&thirteen),
            "{f63=9, f84=12, f21=3, f42=6, f56=8, f77=11, f14=2, f35=5, f49=7, f0=0, f28=4, f7=1, f70=10}"
        );
    }

    #[test]
    fn dates_print_as_java_util_date_in_utc() {
        assert_eq!(java_string(&Value::Date(20_349)), "Thu Sep 18 00:00:00 UTC 2025");
        assert_eq!(java_string(&Value::Timestamp(1_758_191_400_123)), "Thu Sep 18 10:30:00 UTC 2025");
        assert_eq!(java_string(&Value::Time(3_600_000)), "Thu Jan 01 01:00:00 UTC 1970");
        assert_eq!(java_string(&Value::Timestamp(-1)), "Wed Dec 31 23:59:59 UTC 1969");
        assert_eq!(java_string(&Value::Date(-1)), "Wed Dec 31 00:00:00 UTC 1969");
    }

    #[test]
    fn hash_codes_match_java() {
        assert_eq!(java_hash_code(&"Aa".into()), Some(2112));
        assert_eq!(java_hash_code(&"BB".into()), Some(2112));
        assert_eq!(java_hash_code(&"user_id".into()), Some(-147_132_913));
        assert_eq!(java_hash_code(&Value::Int64(-1)), Some(0));
        assert_eq!(java_hash_code(&Value::Int64(1 << 32)), Some(1));
        assert_eq!(java_hash_code(&Value::Float64(1.0)), Some(1_072_693_248));
        assert_eq!(java_hash_code(&Value::Boolean(true)), Some(1231));
        assert_eq!(java_hash_code(&Value::Array(vec![])), None);
    }
}
