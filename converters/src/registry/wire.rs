//! Confluent's wire format: `0x00`, a 4-byte big-endian schema id, then the payload.

use sluice_api::{ConnectError, Result};

/// The first byte of every registry-framed message.
pub const MAGIC_BYTE: u8 = 0;

/// The schema id of a framed message, `None` when it is not framed (too short or another
/// first byte). Used to find the ids a batch needs without failing on bad records.
pub fn schema_id(data: &[u8]) -> Option<u32> {
    match data {
        [MAGIC_BYTE, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Splits a framed message into its schema id and payload.
pub fn split(data: &[u8]) -> Result<(u32, &[u8])> {
    match data {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [first, ..] if *first != MAGIC_BYTE => Err(ConnectError::data(format!(
            "Unknown magic byte {first:#04x}: the record was not written by a schema-registry serializer \
             (Confluent wire format starts with 0x00 and a 4-byte schema id). Check the producer's serializer \
             or this converter setting."
        ))),
        _ => Err(ConnectError::data(format!(
            "The record has {} byte(s), fewer than the 5 of the Confluent wire format header (0x00 + 4-byte schema id).",
            data.len()
        ))),
    }
}

/// Reads a zig-zag varint as Confluent's Protobuf framing writes them.
fn read_zigzag(data: &[u8], pos: &mut usize) -> Result<i64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = data.get(*pos) else {
            return Err(ConnectError::data("The Protobuf message-index list is truncated."));
        };
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
        }
    }
    Err(ConnectError::data("A Protobuf message index is not a valid varint."))
}

/// Splits the message indexes Confluent's Protobuf serializer writes after the schema id:
/// a count, then one index per nesting level; a single `0` stands for `[0]`, the first message
/// of the file. Returns the path and the rest of the payload.
pub fn protobuf_message_indexes(payload: &[u8]) -> Result<(Vec<usize>, &[u8])> {
    let mut pos = 0;
    let count = read_zigzag(payload, &mut pos)?;
    if count == 0 {
        return Ok((vec![0], &payload[pos..]));
    }
    if !(1..=100).contains(&count) {
        return Err(ConnectError::data(format!("Invalid Protobuf message-index count {count}.")));
    }
    let mut path = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let index = read_zigzag(payload, &mut pos)?;
        let index = usize::try_from(index)
            .map_err(|_| ConnectError::data(format!("Invalid Protobuf message index {index}.")))?;
        path.push(index);
    }
    Ok((path, &payload[pos..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_id_and_payload() {
        let data = [0, 0, 0, 1, 2, 9, 8];
        assert_eq!(split(&data).unwrap(), (258, &[9u8, 8][..]));
        assert_eq!(schema_id(&data), Some(258));
    }

    #[test]
    fn rejects_other_magic_bytes_and_short_input_with_a_reason() {
        let err = split(b"{\"a\":1}").unwrap_err().to_string();
        assert!(err.contains("magic byte 0x7b"), "{err}");
        let err = split(&[0, 0, 1]).unwrap_err().to_string();
        assert!(err.contains("3 byte(s)"), "{err}");
        assert_eq!(schema_id(&[1, 0, 0, 0, 1]), None);
    }

    #[test]
    fn reads_protobuf_message_indexes() {
        // A single 0: the first message.
        assert_eq!(protobuf_message_indexes(&[0, 7]).unwrap(), (vec![0], &[7u8][..]));
        // Count 2 (zig-zag 4), indexes 1 (2) and 0 (0): the first nested message of the second one.
        assert_eq!(protobuf_message_indexes(&[4, 2, 0, 7]).unwrap(), (vec![1, 0], &[7u8][..]));
        assert!(protobuf_message_indexes(&[4, 2]).is_err());
    }
}
