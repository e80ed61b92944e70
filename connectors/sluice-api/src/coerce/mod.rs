//! Value coercion, in one place for every sink, converter and transform: Kafka Connect values
//! into the primitive forms sinks store (integers, floats, booleans, exact decimals, points in
//! time, UUIDs), text into Connect's logical types, and values into text.
//!
//! These are the coercions a Kafka Connect user expects (a JSON string `"42"` into an `Int32`
//! column, `"2025-09-18T10:30:00Z"` into a timestamp, a struct into a text column as JSON).
//! Each returns a short reason on failure (or `None` where there is only one); the caller adds
//! the field and the target type.
//!
//! # Layout
//! - `number`: [`to_i128`], [`to_i64`], [`to_f64`], [`to_bool`], [`to_uuid`].
//! - `decimal`: [`to_decimal`], [`rescale`] (never loses digits), [`decimal_from_text`] and
//!   [`parse_decimal`] (decimal text, exponents allowed), [`unscaled_from_be_bytes`]
//!   (Connect's Decimal bytes), [`decimal_text`] (exact text), [`pow10`].
//! - `time`: [`to_epoch_nanos`], [`to_epoch_units`], [`to_epoch_millis`] (any value as a point
//!   in time); [`parse_datetime`] (the ISO-8601 forms users send), and the strict RFC 3339
//!   forms JSON Schema's formats ask for: [`parse_rfc3339`], [`parse_date`], [`parse_time`];
//!   [`days_from_civil`]; [`date_text`], [`time_text`], [`timestamp_text`] (ISO-8601 text of
//!   Connect's Date, Time and Timestamp); [`NANOS_PER_DAY`], [`MILLIS_PER_DAY`].
//! - `text`: [`write_text`] and [`text_bytes`] (what a string column stores), [`write_json`]
//!   (JSON of any value), [`connect_string`] and [`header_bytes`] (Kafka's
//!   `Values.convertToString`, with Java's number and `BigDecimal` text).

mod decimal;
mod number;
mod text;
mod time;

pub use decimal::{decimal_from_text, decimal_text, parse_decimal, pow10, rescale, to_decimal, unscaled_from_be_bytes};
pub use number::{to_bool, to_f64, to_i128, to_i64, to_uuid};
pub use text::{connect_string, header_bytes, text_bytes, write_json, write_text};
pub use time::{
    date_text, days_from_civil, parse_date, parse_datetime, parse_rfc3339, parse_time, time_text, timestamp_text,
    to_epoch_millis, to_epoch_nanos, to_epoch_units, units_of, MILLIS_PER_DAY, NANOS_PER_DAY,
};
