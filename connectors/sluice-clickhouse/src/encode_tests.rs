//! Unit tests of `encode`.

use super::*;

fn enc(ty: &str, value: Value) -> Vec<u8> {
    let ty = ClickhouseType::parse(ty).unwrap();
    let mut buf = Vec::new();
    encode_value(&mut buf, &ty, &value).unwrap_or_else(|e| panic!("{ty}: {e}"));
    buf
}

fn err(ty: &str, value: Value) -> String {
    let ty = ClickhouseType::parse(ty).unwrap();
    encode_value(&mut Vec::new(), &ty, &value).unwrap_err().for_column("c").to_string()
}

#[test]
fn integers_are_little_endian_and_range_checked() {
    assert_eq!(enc("Int8", Value::Int64(-1)), [0xff]);
    assert_eq!(enc("UInt16", Value::Int32(0x1234)), [0x34, 0x12]);
    assert_eq!(enc("Int32", "-2".into()), (-2i32).to_le_bytes());
    assert_eq!(enc("UInt64", Value::Int64(1)), 1u64.to_le_bytes());
    assert_eq!(enc("UInt8", Value::Boolean(true)), [1]);
    assert_eq!(enc("Int128", Value::Int8(-1)), [0xff; 16]);
    assert_eq!(enc("Int256", Value::Int8(-2)).len(), 32);
    let e = err("UInt8", Value::Int64(300));
    assert!(e.contains("Column `c` expects UInt8 but got int64 300: is outside 0..=255"), "{e}");
    assert!(err("Int32", "twelve".into()).contains("not a number"));
}

#[test]
fn floats_bools_and_strings() {
    assert_eq!(enc("Float32", Value::Float64(1.5)), 1.5f32.to_le_bytes());
    assert_eq!(enc("Float64", "2.25".into()), 2.25f64.to_le_bytes());
    assert_eq!(enc("Bool", "true".into()), [1]);
    assert_eq!(enc("String", "héllo".into()), b"\x06h\xc3\xa9llo");
    assert_eq!(enc("String", Value::Int64(42)), b"\x0242");
    assert_eq!(enc("String", Value::Map(vec![("a".into(), Value::Int64(1))])), b"\x07{\"a\":1}");
    let long = "x".repeat(300);
    assert_eq!(&enc("String", long.as_str().into())[..2], [0xac, 0x02]);
    assert_eq!(enc("FixedString(4)", "ab".into()), b"ab\0\0");
    assert!(err("FixedString(2)", "abc".into()).contains("3 bytes long, more than 2"));
}

#[test]
fn dates_and_times_accept_strings_logical_types_and_epoch_numbers() {
    let secs = 1_758_191_400u32; // 2025-09-18T10:30:00Z
    assert_eq!(enc("DateTime", "2025-09-18T10:30:00Z".into()), secs.to_le_bytes());
    assert_eq!(enc("DateTime('Asia/Tokyo')", "2025-09-18 10:30:00".into()), secs.to_le_bytes());
    assert_eq!(enc("DateTime", Value::Timestamp(secs as i64 * 1000 + 999)), secs.to_le_bytes());
    assert_eq!(enc("DateTime", Value::Int64(secs as i64)), secs.to_le_bytes());
    assert_eq!(enc("Date", Value::Date(20_349)), 20_349u16.to_le_bytes());
    assert_eq!(enc("Date", "2025-09-18".into()), 20_349u16.to_le_bytes());
    assert_eq!(enc("Date", Value::Timestamp(secs as i64 * 1000)), 20_349u16.to_le_bytes());
    assert_eq!(enc("Date32", Value::Int32(-1)), (-1i32).to_le_bytes());
    let ms = secs as i64 * 1000 + 123;
    assert_eq!(enc("DateTime64(3, 'UTC')", "2025-09-18T10:30:00.123Z".into()), ms.to_le_bytes());
    assert_eq!(enc("DateTime64(3)", Value::Timestamp(ms)), ms.to_le_bytes());
    assert_eq!(enc("DateTime64(6)", Value::Int64(7)), 7i64.to_le_bytes());
    assert_eq!(enc("DateTime64(0)", Value::Timestamp(ms)), (secs as i64).to_le_bytes());
    assert!(err("DateTime", "1969-12-31T23:59:59Z".into()).contains("outside 1970-01-01"));
    assert!(err("DateTime", "next tuesday".into()).contains("ISO-8601"));
}

#[test]
fn decimals_use_the_width_of_their_precision() {
    assert_eq!(enc("Decimal(9, 2)", "12.34".into()), 1234i32.to_le_bytes());
    assert_eq!(enc("Decimal(18, 4)", Value::Decimal { unscaled: -12_345, scale: 3 }), (-123_450i64).to_le_bytes());
    assert_eq!(enc("Decimal(38, 0)", Value::Int64(5)), 5i128.to_le_bytes());
    assert_eq!(enc("Decimal(76, 2)", Value::Int64(-1)).len(), 32);
    assert!(err("Decimal(18, 2)", "1.005".into()).contains("lose precision"));
    assert!(err("Decimal(4, 2)", "100".into()).contains("more than 4 digits"));
}

#[test]
fn uuid_is_two_little_endian_halves() {
    // Bytes as ClickHouse 18.16 itself returns for this UUID in RowBinary.
    let want = [0xe7, 0x11, 0xb3, 0x5c, 0x04, 0xc4, 0xf0, 0x61, 0xa0, 0xdb, 0xd3, 0x6a, 0x00, 0xa6, 0x7b, 0x90];
    assert_eq!(enc("UUID", "61f0c404-5cb3-11e7-907b-a6006ad3dba0".into()), want);
    assert!(err("UUID", "nope".into()).contains("not a UUID"));
}

#[test]
fn enums_by_name_or_number() {
    let ty = "Enum8('a' = 1, 'b' = -2)";
    assert_eq!(enc(ty, "b".into()), [0xfe]);
    assert_eq!(enc(ty, Value::Int32(1)), [1]);
    assert_eq!(enc(ty, "1".into()), [1]);
    assert!(err(ty, "c".into()).contains("is not one of 'a', 'b'"));
    assert!(err(ty, Value::Int32(3)).contains("not a value of the enum"));
    assert_eq!(enc("Enum16('x' = 1000)", "x".into()), 1000i16.to_le_bytes());
}

#[test]
fn nullable_arrays_and_low_cardinality() {
    assert_eq!(enc("Nullable(Int8)", Value::Null), [1]);
    assert_eq!(enc("Nullable(Int8)", Value::Int8(5)), [0, 5]);
    assert_eq!(enc("LowCardinality(String)", "ab".into()), b"\x02ab");
    assert_eq!(enc("LowCardinality(Nullable(String))", Value::Null), [1]);
    let arr = Value::Array(vec!["x".into(), Value::Null]);
    assert_eq!(enc("Array(Nullable(String))", arr), [2, 0, 1, b'x', 1]);
    assert!(err("Array(String)", Value::Array(vec![Value::Null])).contains("at element 0"));
    assert!(err("String", Value::Null).contains("not Nullable"));
    assert!(err("Array(UInt8)", "x".into()).contains("needs an array"));
}

#[test]
fn ip_addresses() {
    assert_eq!(enc("IPv4", "1.2.3.4".into()), 0x01020304u32.to_le_bytes());
    let v6 = enc("IPv6", "::1".into());
    assert_eq!(v6.len(), 16);
    assert_eq!(v6[15], 1);
}

const I256_MAX: &str = "57896044618658097711785492504343953926634992332820282019728792003956564819967";
const I256_MIN: &str = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
const U256_MAX: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

/// `10^exp + add` as 32 little-endian bytes, by schoolbook multiplication on 64-bit limbs.
fn pow10_le(exp: u32, add: i64) -> Vec<u8> {
    let mut limbs = [1u64, 0, 0, 0];
    for _ in 0..exp {
        let mut carry = 0u128;
        for limb in limbs.iter_mut() {
            let v = *limb as u128 * 10 + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
    }
    let mut out: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    let negate = add < 0;
    let mut carry = add.unsigned_abs() as u16;
    for byte in out.iter_mut() {
        let v = if negate { *byte as u16 + 0x100 - carry } else { *byte as u16 + carry };
        *byte = v as u8;
        carry = if negate { u16::from(v < 0x100) } else { v >> 8 };
    }
    out
}

#[test]
fn wide_integers_cover_their_whole_range() {
    let mut want = vec![0xff; 32];
    want[31] = 0x7f;
    assert_eq!(enc("Int256", I256_MAX.into()), want);
    let mut want = vec![0; 32];
    want[31] = 0x80;
    assert_eq!(enc("Int256", I256_MIN.into()), want);
    assert_eq!(enc("UInt256", U256_MAX.into()), [0xff; 32]);
    assert_eq!(enc("UInt128", u128::MAX.to_string().into()), [0xff; 16]);
    assert_eq!(enc("Int128", i128::MIN.to_string().into()), i128::MIN.to_le_bytes());
    let mut minus5 = (-5i128).to_le_bytes().to_vec();
    minus5.resize(32, 0xff);
    assert_eq!(enc("Int256", Value::Int64(-5)), minus5);
    assert_eq!(enc("Int256", "-5e0".into()), minus5);
    assert_eq!(enc("Int256", "-500e-2".into()), minus5);
    // Big-endian two's complement, as Connect's Decimal bytes: 33 bytes for UInt256's max.
    let mut bytes = vec![0u8];
    bytes.extend([0xff; 32]);
    assert_eq!(enc("UInt256", Value::Bytes(bytes.into())), [0xff; 32]);
    assert_eq!(enc("Int256", Value::Bytes(vec![0xff, 0xfb].into())), minus5);
    assert_eq!(enc("UInt128", Value::Decimal { unscaled: 1200, scale: 2 }), 12u128.to_le_bytes());
    assert_eq!(enc("Int256", Value::Float64(1e40)), pow10_le(40, 0));

    let e = err("Int256", "57896044618658097711785492504343953926634992332820282019728792003956564819968".into());
    assert!(e.contains("Column `c` expects Int256 but got string") && e.contains("is outside -2^255..=2^255-1"), "{e}");
    let e = err("Int256", "-57896044618658097711785492504343953926634992332820282019728792003956564819969".into());
    assert!(e.contains("is outside -2^255..=2^255-1"), "{e}");
    let u256_over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
    assert!(err("UInt256", u256_over.into()).contains("is outside 0..=2^256-1"));
    assert!(err("UInt128", Value::Int64(-1)).contains("is outside 0..=2^128-1"));
    assert!(err("UInt128", (u128::MAX as f64 * 2.0).to_string().as_str().into()).contains("is outside 0..=2^128-1"));
    assert!(err("UInt256", "1.5".into()).contains("is not a whole number"));
    assert!(err("Int256", "12x".into()).contains("not a number"));
    assert!(err("Int256", "".into()).contains("not a number"));
    assert!(err("Int256", "1".repeat(200).as_str().into()).contains("too many digits"));
    assert!(err("Int128", Value::Float64(f64::INFINITY)).contains("not a finite number"));
}

#[test]
fn decimals_up_to_76_digits() {
    let nines = "9".repeat(76);
    assert_eq!(enc("Decimal(76, 0)", nines.as_str().into()), pow10_le(76, -1));
    assert_eq!(
        enc("Decimal(76, 0)", format!("-{nines}").as_str().into()),
        pow10_le(76, -2).iter().map(|b| !b).collect::<Vec<_>>()
    );
    let with_point = format!("{}.{}", &nines[..66], &nines[66..]);
    assert_eq!(enc("Decimal(76, 10)", with_point.as_str().into()), pow10_le(76, -1));
    assert_eq!(enc("Decimal(76, 70)", Value::Int64(1)), pow10_le(70, 0));
    assert_eq!(enc("Decimal(76, 3)", Value::Decimal { unscaled: 7, scale: 0 }), pow10_le(3, 6000));
    assert!(err("Decimal(76, 0)", format!("1{nines}").as_str().into()).contains("more than 76 digits"));
    assert!(err("Decimal(76, 2)", "0.001".into()).contains("more than 2 fraction digits"));
    assert_eq!(enc("Decimal(38, 2)", Value::Bytes(vec![0x04, 0xd2].into())), 1234i128.to_le_bytes());
    assert_eq!(
        enc("Decimal(38, 0)", "-99999999999999999999999999999999999999".into()),
        (1 - 10i128.pow(38)).to_le_bytes()
    );
    assert_eq!(enc("Decimal(9, 9)", "-0.999999999".into()), (-999_999_999i32).to_le_bytes());
}

#[test]
fn maps_are_key_value_pairs() {
    let m = Value::Map(vec![("a".into(), Value::Int64(1)), ("bc".into(), Value::Int64(2))]);
    let mut want = vec![2, 1, b'a'];
    want.extend(1u64.to_le_bytes());
    want.extend([2, b'b', b'c']);
    want.extend(2u64.to_le_bytes());
    assert_eq!(enc("Map(String, UInt64)", m), want);
    assert_eq!(enc("Map(String, UInt64)", Value::Map(vec![])), [0]);
    let m = Value::Map(vec![("k".into(), Value::Array(vec![Value::Null, "x".into()]))]);
    assert_eq!(enc("Map(String, Array(Nullable(String)))", m), [1, 1, b'k', 2, 1, 0, 1, b'x']);
    assert_eq!(enc("Map(UInt8, String)", Value::Map(vec![("7".into(), "x".into())])), [1, 7, 1, b'x']);

    let e = err("Map(String, UInt8)", Value::Map(vec![("k".into(), "x".into())]));
    assert!(e.contains("at key \"k\": expects UInt8 but got string \"x\""), "{e}");
    let e = err("Map(UInt8, String)", Value::Map(vec![("k".into(), "x".into())]));
    assert!(e.contains("in the key \"k\": expects UInt8"), "{e}");
    assert!(err("Map(String, UInt8)", Value::Int64(1)).contains("needs a map"));
}

fn record(fields: &[(&str, Value)]) -> Value {
    let schema = sluice_api::Schema::structure(
        fields.iter().map(|(n, _)| (*n, sluice_api::Schema::new(sluice_api::SchemaType::String).optional().into_ref())),
    )
    .into_ref();
    Value::Struct(sluice_api::Struct { schema, values: fields.iter().map(|(_, v)| v.clone()).collect() })
}

#[test]
fn tuples_by_position_or_by_name() {
    assert_eq!(enc("Tuple(String, UInt8)", Value::Array(vec!["x".into(), Value::Int64(7)])), [1, b'x', 7]);
    let named = "Tuple(a String, b Nullable(UInt8))";
    assert_eq!(enc(named, Value::Array(vec!["x".into(), Value::Int64(7)])), [1, b'x', 0, 7]);
    assert_eq!(enc(named, record(&[("b", Value::Int64(7)), ("a", "x".into())])), [1, b'x', 0, 7]);
    let obj = Value::Map(vec![("a".into(), "x".into()), ("extra".into(), Value::Int64(1))]);
    assert_eq!(enc(named, obj), [1, b'x', 1], "missing Nullable element is NULL, extra fields ignored");

    let e = err("Tuple(String, UInt8)", Value::Array(vec!["x".into()]));
    assert!(e.contains("has 1 elements but the Tuple has 2"), "{e}");
    let e = err(named, Value::Map(vec![("b".into(), Value::Int64(1))]));
    assert!(e.contains("has no field `a` and that element is not Nullable"), "{e}");
    let e = err(named, record(&[("a", "x".into()), ("b", "y".into())]));
    assert!(e.contains("at element `b`: expects UInt8 but got string \"y\""), "{e}");
    assert!(err("Tuple(String, UInt8)", Value::Map(vec![])).contains("needs an array"));
    assert!(err(named, "x".into()).contains("needs a struct, a JSON object or an array"));
}

#[test]
fn nested_is_an_array_of_named_tuples() {
    let rows = Value::Array(vec![
        Value::Map(vec![("a".into(), "x".into()), ("b".into(), Value::Int64(1))]),
        record(&[("a", "y".into()), ("b", Value::Int64(2))]),
    ]);
    assert_eq!(enc("Nested(a String, b UInt8)", rows), [2, 1, b'x', 1, 1, b'y', 2]);
    let e = err("Nested(a String, b UInt8)", Value::Array(vec![Value::Map(vec![("a".into(), "x".into())])]));
    assert!(e.contains("at element 0: expects Tuple(a String, b UInt8)"), "{e}");
}
