//! Calendar and decimal arithmetic for Connect's logical types, shared by the converters:
//! civil dates to epoch days, decimal text and big-endian two's-complement bytes to unscaled
//! 128-bit integers, and rescaling without losing digits.

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` if it is not a valid date or
/// does not fit an `i32`.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i32> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || year.abs() > 5_000_000 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i32::try_from(era * 146_097 + day_of_era - 719_468).ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `"12.5"` / `"-1.25e1"` as an unscaled integer at `scale`; `None` if it is not a decimal
/// number, would lose digits, or does not fit 128 bits.
pub(crate) fn decimal_from_text(text: &str, scale: u32) -> Option<i128> {
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
    if whole.is_empty() && fraction.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut unscaled: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        unscaled = unscaled.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let from_scale = i64::try_from(fraction.len()).ok()?.checked_sub(exponent)?;
    let unscaled = rescale(unscaled, from_scale, scale)?;
    Some(if negative { -unscaled } else { unscaled })
}

/// `unscaled × 10^-from` as an unscaled integer at scale `to`; `None` if digits would be lost
/// or it does not fit.
pub(crate) fn rescale(unscaled: i128, from: i64, to: u32) -> Option<i128> {
    let shift = i64::from(to) - from;
    if shift >= 0 {
        unscaled.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)
    } else {
        let divisor = match u32::try_from(-shift).ok().and_then(|s| 10i128.checked_pow(s)) {
            Some(divisor) => divisor,
            // More than 38 digits to drop: only zero survives.
            None => return (unscaled == 0).then_some(0),
        };
        (unscaled % divisor == 0).then_some(unscaled / divisor)
    }
}

/// A big-endian two's-complement integer (Connect's Decimal bytes); empty is zero. `None` if
/// it does not fit 128 bits.
pub(crate) fn unscaled_from_be_bytes(bytes: &[u8]) -> Option<i128> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(decimal_from_text("12.5", 2), Some(1250));
        assert_eq!(decimal_from_text("-1.25e1", 1), Some(-125));
        assert_eq!(decimal_from_text("1.234", 2), None);
        assert_eq!(decimal_from_text("1.230", 2), Some(123));
        assert_eq!(decimal_from_text("abc", 2), None);
        assert_eq!(decimal_from_text(".", 2), None);
        assert_eq!(rescale(5, -2, 0), Some(500));
        assert_eq!(rescale(1, 0, 40), None);
        assert_eq!(unscaled_from_be_bytes(&[0x04, 0xd2]), Some(1234));
        assert_eq!(unscaled_from_be_bytes(&[0xff, 0x2e]), Some(-210));
        assert_eq!(unscaled_from_be_bytes(&[]), Some(0));
        let mut wide = vec![0xff; 4];
        wide.extend([0x80; 16]);
        assert_eq!(unscaled_from_be_bytes(&wide), Some(i128::from_be_bytes([0x80; 16])));
        assert_eq!(unscaled_from_be_bytes(&[1; 17]), None);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 2, 29), Some(11016));
        assert_eq!(days_from_civil(1900, 2, 29), None);
    }
}
