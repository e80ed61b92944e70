//! Decoded protobuf messages → Connect values, following the plan [`super::schema`] built.

use prost_reflect::{DynamicMessage, MapKey, ReflectMessage, Value as Proto};
use sluice_api::coerce::{days_from_civil, decimal_from_text, rescale, unscaled_from_be_bytes};
use sluice_api::{ConnectError, Result, SchemaAndValue, SchemaRef, Struct, Value};

use super::schema::{Conv, FieldPlan, JsonKind, MessagePlan, RootPlan, Slot};
use crate::registry::path::{PathError, Segment};

/// Decodes `payload` as the root message of `root` and converts it.
pub(super) fn decode(root: &RootPlan, payload: &[u8]) -> Result<SchemaAndValue> {
    let message = DynamicMessage::decode(root.descriptor.clone(), payload).map_err(|e| {
        ConnectError::data(format!(
            "The Protobuf payload is not a valid {} message ({} byte(s)): {e}",
            root.descriptor.full_name(),
            payload.len()
        ))
    })?;
    let value = convert(&root.slot, Proto::Message(message))
        .map_err(|e| ConnectError::data(format!("Protobuf message {}: {e}", root.descriptor.full_name())))?;
    Ok(SchemaAndValue { schema: Some(root.slot.schema.clone()), value })
}

type Converted = std::result::Result<Value, PathError>;

/// Converts one protobuf value to the Connect value `slot` describes.
pub(super) fn convert(slot: &Slot, value: Proto) -> Converted {
    convert_as(&slot.conv, &slot.schema, value)
}

fn unexpected(conv: &Conv, value: &Proto) -> PathError {
    PathError::new(format!("unexpected protobuf value {value:?} for {conv:?}"))
}

fn convert_as(conv: &Conv, schema: &SchemaRef, value: Proto) -> Converted {
    Ok(match (conv, value) {
        (Conv::Bool, Proto::Bool(b)) => Value::Boolean(b),
        (Conv::Int8, Proto::I32(v)) => {
            Value::Int8(i8::try_from(v).map_err(|_| PathError::new(format!("{v} does not fit an int8")))?)
        }
        (Conv::Int16, Proto::I32(v)) => {
            Value::Int16(i16::try_from(v).map_err(|_| PathError::new(format!("{v} does not fit an int16")))?)
        }
        (Conv::Int32, Proto::I32(v)) => Value::Int32(v),
        (Conv::Int64, Proto::I64(v)) => Value::Int64(v),
        (Conv::Int64, Proto::U32(v)) => Value::Int64(i64::from(v)),
        // Confluent keeps the bits of a uint64 in a Java long; so does Sluice (the schema's
        // `io.confluent.connect.protobuf.Type` parameter says `uint64` / `fixed64`).
        (Conv::Int64, Proto::U64(v)) => Value::Int64(v as i64),
        (Conv::Float32, Proto::F32(v)) => Value::Float32(v),
        (Conv::Float64, Proto::F64(v)) => Value::Float64(v),
        (Conv::String, Proto::String(s)) => Value::String(s.into()),
        (Conv::Bytes, Proto::Bytes(b)) => Value::Bytes(b),
        (Conv::Enum(e), Proto::EnumNumber(n)) => Value::from(match e.symbols.get(&n) {
            Some(symbol) => symbol.clone(),
            // An open (proto3) enum keeps numbers it has no name for; name them as Java does.
            None => format!("UNKNOWN_ENUM_VALUE_{}_{n}", e.name),
        }),
        (Conv::Message(plan), Proto::Message(m)) => message(plan, schema, m)?,
        (Conv::Timestamp, Proto::Message(m)) => timestamp(&m)?,
        (Conv::Date, Proto::Message(m)) => date(&m)?,
        (Conv::TimeOfDay, Proto::Message(m)) => time_of_day(&m)?,
        (Conv::ConfluentDecimal { scale }, Proto::Message(m)) => confluent_decimal(&m, *scale)?,
        (Conv::GoogleDecimal { scale }, Proto::Message(m)) => {
            let text = string_field(&m, 1);
            let unscaled = decimal_from_text(&text, *scale).map_err(|_| {
                PathError::new(format!("decimal {text:?} is not a number representable at scale {scale}"))
            })?;
            Value::Decimal { unscaled, scale: *scale }
        }
        (Conv::Wrapper(inner), Proto::Message(mut m)) => {
            let value = match m.descriptor().get_field(1) {
                Some(field) => m.take_field(&field).unwrap_or_else(|| field.default_value()),
                None => return Err(PathError::new("a wrapper message without a `value` field")),
            };
            convert_as(inner, schema, value)?
        }
        (Conv::Json(kind), Proto::Message(m)) => Value::String(json(*kind, &m).to_string().into()),
        (Conv::List(element), Proto::List(items)) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| convert(element, item).map_err(|e| e.at(Segment::Index(i))))
                .collect::<std::result::Result<_, _>>()?,
        ),
        (Conv::Map(key, value), Proto::Map(entries)) => {
            // prost-reflect keeps map entries in a hash map; sort them so output is stable.
            let mut entries: Vec<(MapKey, Proto)> = entries.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let shown = map_key_text(&k);
                let k = convert(key, map_key_value(k)).map_err(|e| e.at(Segment::Key(shown.clone())))?;
                let v = convert(value, v).map_err(|e| e.at(Segment::Key(shown)))?;
                out.push((k, v));
            }
            Value::Map(out)
        }
        (conv, value) => return Err(unexpected(conv, &value)),
    })
}

fn message(plan: &MessagePlan, schema: &SchemaRef, mut m: DynamicMessage) -> Converted {
    let mut values = Vec::with_capacity(plan.fields.len());
    for field in &plan.fields {
        values.push(match field {
            FieldPlan::Single { field, slot, absent } => match m.take_field(field) {
                Some(value) => convert(slot, value).map_err(|e| e.at(Segment::Field(field.name().to_owned())))?,
                None => absent.clone(),
            },
            FieldPlan::Oneof { schema, members } => {
                let mut union = None;
                for (i, (field, slot)) in members.iter().enumerate() {
                    if let Some(value) = m.take_field(field) {
                        let value = convert(slot, value).map_err(|e| e.at(Segment::Field(field.name().to_owned())))?;
                        let mut member_values = vec![Value::Null; members.len()];
                        member_values[i] = value;
                        union = Some(Value::Struct(Struct { schema: schema.clone(), values: member_values }));
                        break;
                    }
                }
                union.unwrap_or(Value::Null)
            }
        });
    }
    Ok(Value::Struct(Struct { schema: schema.clone(), values }))
}

fn map_key_value(key: MapKey) -> Proto {
    match key {
        MapKey::Bool(v) => Proto::Bool(v),
        MapKey::I32(v) => Proto::I32(v),
        MapKey::I64(v) => Proto::I64(v),
        MapKey::U32(v) => Proto::U32(v),
        MapKey::U64(v) => Proto::U64(v),
        MapKey::String(v) => Proto::String(v),
    }
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(v) => v.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(v) => format!("{v:?}"),
    }
}

fn int_field(m: &DynamicMessage, number: u32) -> i64 {
    match m.get_field_by_number(number).as_deref() {
        Some(Proto::I32(v)) => i64::from(*v),
        Some(Proto::I64(v)) => *v,
        Some(Proto::U32(v)) => i64::from(*v),
        _ => 0,
    }
}

fn string_field(m: &DynamicMessage, number: u32) -> String {
    match m.get_field_by_number(number).as_deref() {
        Some(Proto::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// `google.protobuf.Timestamp` → milliseconds since the epoch (sub-millisecond digits dropped).
fn timestamp(m: &DynamicMessage) -> Converted {
    let (seconds, nanos) = (int_field(m, 1), int_field(m, 2));
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(PathError::new(format!("Timestamp nanos {nanos} is outside 0..=999999999")));
    }
    let millis = seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(nanos / 1_000_000))
        .ok_or_else(|| PathError::new(format!("Timestamp seconds {seconds} is out of range")))?;
    Ok(Value::Timestamp(millis))
}

/// `google.type.Date` → days since the epoch. The date must be complete and valid.
fn date(m: &DynamicMessage) -> Converted {
    let (year, month, day) = (int_field(m, 1), int_field(m, 2), int_field(m, 3));
    let days = days_from_civil(year, month, day)
        .ok_or_else(|| PathError::new(format!("Date {year:04}-{month:02}-{day:02} is not a valid calendar date")))?;
    Ok(Value::Date(days))
}

/// `google.type.TimeOfDay` → milliseconds since midnight.
fn time_of_day(m: &DynamicMessage) -> Converted {
    let (h, min, s, nanos) = (int_field(m, 1), int_field(m, 2), int_field(m, 3), int_field(m, 4));
    if !(0..24).contains(&h) || !(0..60).contains(&min) || !(0..60).contains(&s) || !(0..1_000_000_000).contains(&nanos)
    {
        return Err(PathError::new(format!("TimeOfDay {h:02}:{min:02}:{s:02}.{nanos:09} is not a valid time of day")));
    }
    Ok(Value::Time(((h * 3600 + min * 60 + s) * 1000 + nanos / 1_000_000) as i32))
}

/// `confluent.type.Decimal` → a decimal at the schema's scale.
fn confluent_decimal(m: &DynamicMessage, scale: u32) -> Converted {
    let bytes = match m.get_field_by_number(1).as_deref() {
        Some(Proto::Bytes(b)) => b.clone(),
        _ => Default::default(),
    };
    let value_scale = int_field(m, 3);
    let unscaled = unscaled_from_be_bytes(&bytes)
        .ok_or_else(|| PathError::new(format!("Decimal of {} byte(s) does not fit 128 bits", bytes.len())))?;
    let unscaled = rescale(unscaled, value_scale, scale).map_err(|_| {
        PathError::new(format!("Decimal with scale {value_scale} cannot be represented at the schema's scale {scale}"))
    })?;
    Ok(Value::Decimal { unscaled, scale })
}

/// `google.protobuf.Struct` / `Value` / `ListValue` as JSON.
fn json(kind: JsonKind, m: &DynamicMessage) -> serde_json::Value {
    match kind {
        JsonKind::Struct => {
            let mut entries: Vec<(String, serde_json::Value)> = match m.get_field_by_number(1).as_deref() {
                Some(Proto::Map(map)) => map
                    .iter()
                    .filter_map(|(k, v)| match (k, v) {
                        (MapKey::String(k), Proto::Message(v)) => Some((k.clone(), json(JsonKind::Value, v))),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().collect())
        }
        JsonKind::ListValue => match m.get_field_by_number(1).as_deref() {
            Some(Proto::List(items)) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|item| match item {
                        Proto::Message(v) => json(JsonKind::Value, v),
                        _ => serde_json::Value::Null,
                    })
                    .collect(),
            ),
            _ => serde_json::Value::Array(Vec::new()),
        },
        JsonKind::Value => match m.fields().next() {
            Some((_, Proto::F64(n))) => serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into),
            Some((_, Proto::String(s))) => serde_json::Value::String(s.clone()),
            Some((_, Proto::Bool(b))) => serde_json::Value::Bool(*b),
            Some((field, Proto::Message(inner))) if field.number() == 5 => json(JsonKind::Struct, inner),
            Some((field, Proto::Message(inner))) if field.number() == 6 => json(JsonKind::ListValue, inner),
            _ => serde_json::Value::Null,
        },
    }
}
