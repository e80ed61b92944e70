//! Exact decimals as an unscaled `i128` and a scale (`unscaled × 10^-scale`, Connect's
//! Decimal): from text, floats and big-endian bytes, rescaled without losing digits, and back
//! to text.

use super::number::to_i128;
use crate::value::Value;

/// `10^exp`, or `None` when it does not fit an `i128`.
pub fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// An exact decimal with `scale` fraction digits, as its unscaled integer. Never rounds:
/// a value with more significant fraction digits than `scale` is an error.
pub fn to_decimal(value: &Value, scale: u32) -> Result<i128, String> {
    match value {
        Value::Decimal { unscaled, scale: from } => rescale(*unscaled, *from, scale),
        Value::String(s) => decimal_from_text(s.trim(), scale),
        Value::Float32(_) | Value::Float64(_) => {
            let f = value.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err("not a finite number".into());
            }
            // Shortest round-trip text, so 0.1 becomes exactly 0.1 rather than its binary value.
            decimal_from_text(&f.to_string(), scale)
        }
        _ => rescale(to_i128(value)?, 0, scale),
    }
}

/// Changes the scale of `unscaled × 10^-from` to `to` without losing digits. `from` may be
/// negative (`1.2e5` is 12 at scale -4) or wider than `u32`, as decimal text and Protobuf's
/// decimal messages allow.
pub fn rescale(unscaled: i128, from: impl Into<i64>, to: u32) -> Result<i128, String> {
    if unscaled == 0 {
        // Zero has no digits to lose or overflow, whatever the scales.
        return Ok(0);
    }
    let too_many_digits = || "too many digits".to_string();
    let shift = i64::from(to).checked_sub(from.into()).ok_or_else(too_many_digits)?;
    if shift >= 0 {
        u32::try_from(shift).ok().and_then(pow10).and_then(|m| unscaled.checked_mul(m)).ok_or_else(too_many_digits)
    } else {
        let lost = || format!("has more than {to} fraction digits and would lose precision");
        match u32::try_from(-shift).ok().and_then(pow10) {
            Some(d) if unscaled % d == 0 => Ok(unscaled / d),
            // Dropping more than 38 digits loses some of any non-zero value.
            _ => Err(lost()),
        }
    }
}

/// Decimal text (`[+-]digits[.digits][e[+-]digits]`) as an unscaled integer at `scale`;
/// an error if it is not a decimal number, would lose digits, or does not fit 128 bits.
pub fn decimal_from_text(text: &str, scale: u32) -> Result<i128, String> {
    let (unscaled, from) = decimal_parts(text).ok_or("not a decimal number")?;
    rescale(unscaled, from, scale)
}

/// Parses `[+-]digits[.digits][e[+-]digits]` exactly, as `(unscaled, scale)`; a negative
/// scale is multiplied out (`1.2e2` is `(120, 0)`).
pub fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let (unscaled, scale) = decimal_parts(s)?;
    match u32::try_from(scale) {
        Ok(scale) => Some((unscaled, scale)),
        Err(_) if scale < 0 => Some((rescale(unscaled, scale, 0).ok()?, 0)),
        Err(_) => None,
    }
}

/// The digits of decimal text as an integer, and the scale they stand at (negative for
/// `1e5`); `None` if it is not a decimal number or has more than 38 digits.
fn decimal_parts(text: &str) -> Option<(i128, i64)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut unscaled: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let scale = i64::try_from(fraction.len()).ok()?.checked_sub(exponent)?;
    Some((if negative { -unscaled } else { unscaled }, scale))
}

/// A big-endian two's-complement integer (Connect's Decimal bytes); empty is zero. `None` if
/// it does not fit 128 bits.
pub fn unscaled_from_be_bytes(bytes: &[u8]) -> Option<i128> {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0 };
    // Leading sign-extension bytes carry no value.
    let mut significant = bytes;
    while significant.len() > 16 && significant[0] == fill && (significant[1] & 0x80 != 0) == negative {
        significant = &significant[1..];
    }
    if significant.len() > 16 {
        return None;
    }
    let mut buf = [fill; 16];
    buf[16 - significant.len()..].copy_from_slice(significant);
    Some(i128::from_be_bytes(buf))
}

/// `unscaled × 10^-scale` as exact decimal text (`-12.340`).
pub fn decimal_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_rescale_exactly_or_fail() {
        assert_eq!(to_decimal(&"12.34".into(), 4), Ok(123_400));
        assert_eq!(to_decimal(&"-0.5".into(), 1), Ok(-5));
        assert_eq!(to_decimal(&"1.2e2".into(), 0), Ok(120));
        assert_eq!(to_decimal(&Value::Decimal { unscaled: 12_300, scale: 3 }, 2), Ok(1_230));
        assert_eq!(to_decimal(&Value::Float64(0.1), 3), Ok(100));
        assert_eq!(to_decimal(&Value::Int32(5), 2), Ok(500));
        let err = to_decimal(&"1.2345".into(), 2).unwrap_err();
        assert!(err.contains("lose precision"), "{err}");
        assert!(to_decimal(&Value::Float64(f64::NAN), 2).is_err());
        assert_eq!(to_decimal(&"x".into(), 2), Err("not a decimal number".into()));
        assert_eq!(decimal_text(-1_234, 3), "-1.234");
        assert_eq!(decimal_text(5, 3), "0.005");
    }

    #[test]
    fn decimal_text_parses_at_a_scale() {
        assert_eq!(decimal_from_text("12.5", 2), Ok(1250));
        assert_eq!(decimal_from_text("-1.25e1", 1), Ok(-125));
        assert!(decimal_from_text("1.234", 2).is_err(), "losing digits is refused");
        assert_eq!(decimal_from_text("1.230", 2), Ok(123));
        assert_eq!(decimal_from_text("1e2", 0), Ok(100));
        assert!(decimal_from_text("abc", 2).is_err());
        assert!(decimal_from_text(".", 2).is_err());
        assert_eq!(decimal_from_text("0e-9999999999", 2), Ok(0), "zero survives any rescale");
        assert_eq!(parse_decimal("1.2e2"), Some((120, 0)));
        assert_eq!(parse_decimal("-0.50"), Some((-50, 2)));
        assert_eq!(parse_decimal("1e40"), None);
    }

    #[test]
    fn rescale_takes_any_source_scale() {
        assert_eq!(rescale(5, -2, 0), Ok(500));
        assert!(rescale(1, 0, 40).is_err());
        assert_eq!(rescale(1_230, 2u32, 1), Ok(123));
        assert!(rescale(1, i64::MIN, 0).is_err());
        assert_eq!(rescale(0, i64::MIN, 0), Ok(0));
        assert_eq!(to_decimal(&"0.000e40".into(), 31), Ok(0));
        assert!(rescale(7, i64::MAX, 0).unwrap_err().contains("lose precision"));
    }

    #[test]
    fn big_endian_bytes() {
        assert_eq!(unscaled_from_be_bytes(&[0x04, 0xd2]), Some(1234));
        assert_eq!(unscaled_from_be_bytes(&[0xff, 0x2e]), Some(-210));
        assert_eq!(unscaled_from_be_bytes(&[]), Some(0));
        let mut wide = vec![0xff; 4];
        wide.extend([0x80; 16]);
        assert_eq!(unscaled_from_be_bytes(&wide), Some(i128::from_be_bytes([0x80; 16])));
        assert_eq!(unscaled_from_be_bytes(&[1; 17]), None);
    }
}
