"""ClickHouse itself reads what the ClickHouse sink writes, for every column type the encoder
knows: the sink's real RowBinary encoder (through the `rowbinary_sample` example of
sluice-clickhouse) writes one file per case, and ClickHouse 26.x in-process (chdb) reads it
with `file(path, RowBinary, 'c <type>')`. Every row must come back exactly as ClickHouse renders
the expected value, and every byte must be used: ClickHouse reads RowBinary to the last byte, so
a value written a byte too long or too short fails its case too. No service is needed.

The test server (ClickHouse 18.16) has none of the newer types (Bool, Date32, DateTime64, Map,
named Tuple, IPv4, IPv6, Int128 and wider, Decimal(76)); chdb is how ClickHouse checks them here.

What ClickHouse refuses, and so is not tested as a column type:
- `Nullable(Array(...))`: "Nested type Array(UInt8) cannot be inside Nullable type"
  (ILLEGAL_TYPE_OF_ARGUMENT, code 43). Arrays hold nulls as `Array(Nullable(T))` instead, tested
  below, and `test_clickhouse_refuses_nullable_array` keeps the refusal on record.
- `DateTime64(9)` ends at 2262-04-11 23:47:16.854775807 (Int64 nanoseconds); 2299-12-31 is
  tested with precisions 0, 3 and 6, and the encoder refuses it for precision 9.

`Nested(a String, b UInt8)` is read with `flatten_nested = 0`, where it is one column of type
Array(Tuple(a String, b UInt8)); with the default `flatten_nested = 1` the server shows it as
plain arrays `n.a Array(String)`, `n.b Array(UInt8)`, which the array cases cover.
"""

from __future__ import annotations

import calendar
import json
import os
import subprocess
from datetime import date, datetime
from pathlib import Path

import chdb
import pytest

REPO = Path(__file__).resolve().parents[2]

# Tagged values, as the example reads them: they name the Connect value exactly.
NULL = {"null": True}


def s(text: str) -> dict:
    return {"string": text}


def i64(n: int) -> dict:
    return {"int64": n}


def arr(*items: dict) -> dict:
    return {"array": list(items)}


def mp(*pairs: tuple[dict, dict]) -> dict:
    return {"map": [list(p) for p in pairs]}


def struct(*fields: tuple[str, dict]) -> dict:
    return {"struct": [list(f) for f in fields]}


def dec(unscaled: int, scale: int) -> dict:
    return {"decimal": {"unscaled": str(unscaled), "scale": scale}}


def be_bytes(n: int, size: int) -> dict:
    """Big-endian two's complement, as Connect's Decimal bytes."""
    return {"bytes_hex": n.to_bytes(size, "big", signed=True).hex()}


def days(iso: str) -> dict:
    return {"date_days": (date.fromisoformat(iso) - date(1970, 1, 1)).days}


def ts_ms(iso: str, ms: int = 0) -> dict:
    """A Connect Timestamp at `iso` (UTC, whole seconds) plus `ms`."""
    return {"timestamp_ms": calendar.timegm(datetime.fromisoformat(iso).timetuple()) * 1000 + ms}


def integer_case(ty: str, bits: int, signed: bool) -> tuple[str, list]:
    """Min, max, zero and -1/1 of an integer type, from every value kind that can carry them."""
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)

    def shown(n: int):
        return str(n) if bits >= 64 else n  # 64-bit and wider integers are quoted in JSON

    def tagged(n: int) -> dict:
        return i64(n) if -(2 ** 63) <= n < 2 ** 63 else s(str(n))

    rows = [(tagged(lo), shown(lo)), (tagged(hi), shown(hi)), (s(str(lo)), shown(lo)), (s(str(hi)), shown(hi)),
            ({"int8": 0}, shown(0)), (s(" +1 "), shown(1)), (dec(300, 2), shown(3)), ({"bool": True}, shown(1))]
    if signed:
        rows += [({"int8": -1}, shown(-1)), (dec(-1200, 2), shown(-12))]
    if bits >= 128:
        size = bits // 8 + (0 if signed else 1)  # unsigned max needs a leading zero byte
        rows += [(be_bytes(lo, size), shown(lo)), (be_bytes(hi, size), shown(hi)), (s(f"{hi}e0"), shown(hi))]
    return ty, rows


NINES_76 = int("9" * 76)

CASES: list[tuple[str, list]] = [
    integer_case("Int8", 8, True),
    integer_case("Int16", 16, True),
    integer_case("Int32", 32, True),
    integer_case("Int64", 64, True),
    integer_case("Int128", 128, True),
    integer_case("Int256", 256, True),
    integer_case("UInt8", 8, False),
    integer_case("UInt16", 16, False),
    integer_case("UInt32", 32, False),
    integer_case("UInt64", 64, False),
    integer_case("UInt128", 128, False),
    integer_case("UInt256", 256, False),
    ("Float32", [({"float32": 1.5}, 1.5), ({"float64": -0.25}, -0.25), ({"float32": "inf"}, "inf")]),
    ("Float64", [({"float64": 1e308}, 1e308), (s("-2.5"), -2.5), ({"float64": "nan"}, "nan"), (i64(3), 3)]),
    ("Bool", [({"bool": True}, True), ({"bool": False}, False), (s("true"), True), (i64(0), False)]),
    ("String", [
        (s(""), ""), (s("héllo, 'world'\n"), "héllo, 'world'\n"), (i64(-7), "-7"), ({"bytes_hex": "6869"}, "hi"),
        (mp((s("a"), i64(1))), '{"a":1}'), (s("x" * 300), "x" * 300)]),
    ("FixedString(4)", [(s("ab"), "ab\0\0"), (s("abcd"), "abcd"), (s(""), "\0\0\0\0")]),
    ("Date", [
        (days("1970-01-01"), "1970-01-01"), (days("2149-06-06"), "2149-06-06"), (s("2025-09-18"), "2025-09-18")]),
    ("Date32", [
        (days("1900-01-01"), "1900-01-01"), (days("2299-12-31"), "2299-12-31"), (days("1969-12-31"), "1969-12-31"),
        (s("1900-01-01"), "1900-01-01"), (s("2299-12-31"), "2299-12-31"),
        (ts_ms("2299-12-31T23:59:59", 999), "2299-12-31"), (ts_ms("1969-12-31T23:59:59", 999), "1969-12-31")]),
    ("DateTime('UTC')", [
        (s("1970-01-01T00:00:00Z"), "1970-01-01 00:00:00"), (s("2106-02-07T06:28:15Z"), "2106-02-07 06:28:15"),
        (ts_ms("2025-09-18T10:30:00", 999), "2025-09-18 10:30:00")]),
    ("DateTime64(0, 'UTC')", [
        (ts_ms("1900-01-01T00:00:00"), "1900-01-01 00:00:00"),
        (s("2299-12-31T23:59:59Z"), "2299-12-31 23:59:59"),
        ({"timestamp_ms": -1500}, "1969-12-31 23:59:58")]),  # rounded down, not toward zero
    ("DateTime64(3, 'Asia/Tokyo')", [
        (ts_ms("1900-01-01T00:00:00"), "1900-01-01 09:00:00.000"),
        (s("1900-01-01 09:00:00+09:00"), "1900-01-01 09:00:00.000"),
        (s("2299-12-31T14:59:59.999Z"), "2299-12-31 23:59:59.999"),
        ({"timestamp_ms": -1}, "1970-01-01 08:59:59.999"),
        (i64(1_758_191_400_123), "2025-09-18 19:30:00.123")]),  # plain numbers count ticks
    ("DateTime64(6)", [
        (s("1900-01-01T00:00:00.000001Z"), "1900-01-01 00:00:00.000001"),
        (s("2299-12-31T23:59:59.999999Z"), "2299-12-31 23:59:59.999999"),
        ({"timestamp_ms": -1}, "1969-12-31 23:59:59.999000")]),
    ("DateTime64(9, 'UTC')", [
        (s("1900-01-01T00:00:00.000000001Z"), "1900-01-01 00:00:00.000000001"),
        (s("2262-04-11T23:47:16.854775807Z"), "2262-04-11 23:47:16.854775807"),
        (s("1969-12-31T23:59:59.999999999Z"), "1969-12-31 23:59:59.999999999"),
        (i64(1), "1970-01-01 00:00:00.000000001"),
        ({"timestamp_ms": 1}, "1970-01-01 00:00:00.001000000")]),
    ("UUID", [
        (s("61f0c404-5cb3-11e7-907b-a6006ad3dba0"), "61f0c404-5cb3-11e7-907b-a6006ad3dba0"),
        (s("00000000-0000-0000-0000-000000000000"), "00000000-0000-0000-0000-000000000000"),
        (s("{FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF}"), "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ({"bytes_hex": "0123456789abcdeffedcba9876543210"}, "01234567-89ab-cdef-fedc-ba9876543210")]),
    ("IPv4", [
        (s("0.0.0.0"), "0.0.0.0"), (s("255.255.255.255"), "255.255.255.255"), (s("1.2.3.4"), "1.2.3.4"),
        (i64(0x01020304), "1.2.3.4")]),
    ("IPv6", [
        (s("::"), "::"), (s("2001:db8::ff00:42:8329"), "2001:db8::ff00:42:8329"), (s("1.2.3.4"), "::ffff:1.2.3.4"),
        ({"bytes_hex": "ff" * 16}, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]),
    ("Enum8('a' = -128, 'b' = 127, 'it\\'s' = 0)", [
        (s("a"), "a"), (s("b"), "b"), (i64(0), "it's"), (s("it's"), "it's")]),
    ("Enum16('lo' = -32768, 'hi' = 32767)", [(s("lo"), "lo"), (i64(32767), "hi")]),
    ("Decimal(9, 2)", [
        (s("9999999.99"), "9999999.99"), (s("-9999999.99"), "-9999999.99"), (dec(5, 1), "0.50"),
        ({"float64": 0.1}, "0.10"), (i64(-3), "-3.00")]),
    ("Decimal(18, 4)", [
        (s("-99999999999999.9999"), "-99999999999999.9999"), (dec(-12_345, 3), "-12.3450"),
        (be_bytes(1234, 2), "0.1234")]),
    ("Decimal(38, 10)", [
        (s("9" * 28 + "." + "9" * 10), "9" * 28 + "." + "9" * 10),
        (s("-1e-10"), "-0.0000000001"),
        (dec(-(10 ** 38 - 1), 10), "-" + "9" * 28 + "." + "9" * 10)]),
    ("Decimal(76, 0)", [
        (s("9" * 76), "9" * 76), (s("-" + "9" * 76), "-" + "9" * 76),
        (be_bytes(NINES_76, 32), "9" * 76), (be_bytes(-NINES_76, 32), "-" + "9" * 76),
        (s("1e75"), "1" + "0" * 75), (i64(0), "0")]),
    ("Decimal(76, 30)", [
        (s("9" * 46 + "." + "9" * 30), "9" * 46 + "." + "9" * 30),
        (s("-0." + "0" * 29 + "1"), "-0." + "0" * 29 + "1"),
        (dec(2 ** 127 - 1, 0), str(2 ** 127 - 1) + "." + "0" * 30),
        (dec(-(2 ** 127), 30), "-170141183.460469231731687303715884105728")]),
    ("LowCardinality(String)", [(s("a"), "a"), (s(""), ""), (s("a"), "a"), (i64(5), "5")]),
    ("LowCardinality(Nullable(String))", [(NULL, None), (s("x"), "x"), (NULL, None), (s(""), "")]),
    ("Nullable(Int32)", [(NULL, None), (i64(-2147483648), -2147483648)]),
    ("Nullable(UInt64)", [(NULL, None), (s("18446744073709551615"), "18446744073709551615")]),
    ("Nullable(Int256)", [(NULL, None), (s(str(2 ** 255 - 1)), str(2 ** 255 - 1))]),
    ("Nullable(String)", [(NULL, None), (s(""), "")]),
    ("Nullable(Float64)", [(NULL, None), ({"float64": 1.5}, 1.5), ({"float64": "-inf"}, "-inf")]),
    ("Nullable(Bool)", [(NULL, None), ({"bool": True}, True)]),
    ("Nullable(Decimal(76, 2))", [(NULL, None), (s("-" + "9" * 74 + ".99"), "-" + "9" * 74 + ".99")]),
    ("Nullable(DateTime64(3, 'UTC'))", [(NULL, None), (ts_ms("1900-01-01T00:00:00"), "1900-01-01 00:00:00.000")]),
    ("Nullable(Date32)", [(NULL, None), (days("2299-12-31"), "2299-12-31")]),
    ("Nullable(UUID)", [
        (NULL, None), (s("61f0c404-5cb3-11e7-907b-a6006ad3dba0"), "61f0c404-5cb3-11e7-907b-a6006ad3dba0")]),
    ("Nullable(IPv6)", [(NULL, None), (s("::1"), "::1")]),
    ("Nullable(Enum8('a' = 1))", [(NULL, None), (s("a"), "a")]),
    ("Array(Nullable(Int64))", [
        (arr(), []), (arr(NULL), [None]), (arr(i64(1), NULL, i64(-(2 ** 63))), ["1", None, str(-(2 ** 63))])]),
    ("Array(Nullable(String))", [(arr(), []), (arr(s("x"), NULL, s("")), ["x", None, ""])]),
    ("Array(Nullable(Decimal(76, 1)))", [(arr(NULL, s("-0.5")), [None, "-0.5"])]),
    ("Array(Array(UInt8))", [
        (arr(), []), (arr(arr()), [[]]), (arr(arr(i64(1), i64(255)), arr(), arr(i64(0))), [[1, 255], [], [0]])]),
    ("Array(Array(Nullable(String)))", [(arr(arr(NULL), arr(s("a"), NULL)), [[None], ["a", None]])]),
    ("Array(Array(Array(Int8)))", [(arr(arr(arr(i64(-128))), arr(arr(), arr(i64(127)))), [[[-128]], [[], [127]]])]),
    ("Array(LowCardinality(Nullable(String)))", [(arr(s("a"), NULL, s("a")), ["a", None, "a"])]),
    ("Map(String, UInt64)", [
        (mp(), {}),
        (mp((s("a"), i64(0)), (s("b"), s("18446744073709551615"))), {"a": "0", "b": "18446744073709551615"}),
        (struct(("x", i64(1)), ("y", i64(2))), {"x": "1", "y": "2"})]),
    ("Map(String, Array(Nullable(String)))", [
        (mp(), {}), (mp((s("k"), arr(NULL, s("x"))), (s("e"), arr())), {"k": [None, "x"], "e": []})]),
    ("Map(UInt8, Nullable(Int256))", [
        (mp((s("7"), NULL), (i64(255), s(str(-(2 ** 255))))), {"7": None, "255": str(-(2 ** 255))})]),
    ("Map(LowCardinality(String), Map(String, Int8))", [(mp((s("o"), mp((s("i"), i64(-1))))), {"o": {"i": -1}})]),
    ("Tuple(String, UInt8, Nullable(Int256))", [
        (arr(s("x"), i64(255), NULL), ["x", 255, None]),
        (arr(s(""), i64(0), s(str(2 ** 255 - 1))), ["", 0, str(2 ** 255 - 1)])]),
    ("Tuple(a String, b UInt8)", [
        (struct(("a", s("x")), ("b", i64(1))), {"a": "x", "b": 1}),
        (mp((s("b"), i64(2)), (s("a"), s("y")), (s("extra"), i64(0))), {"a": "y", "b": 2}),  # by name
        (arr(s("z"), i64(3)), {"a": "z", "b": 3})]),  # by position
    ("Tuple(a String, b Nullable(UInt8), c Array(Nullable(String)))", [
        (mp((s("a"), s("x")), (s("c"), arr())), {"a": "x", "b": None, "c": []}),  # missing Nullable: NULL
        (struct(("c", arr(NULL)), ("a", s("y")), ("b", i64(9))), {"a": "y", "b": 9, "c": [None]})]),
    ("Tuple(`a b` String, t Tuple(Int8, Date32))", [
        (mp((s("a b"), s("x")), (s("t"), arr(i64(-1), days("1900-01-01")))), {"a b": "x", "t": [-1, "1900-01-01"]})]),
    ("Nested(a String, b UInt8)", [
        (arr(), []),
        (arr(mp((s("a"), s("x")), (s("b"), i64(1))), struct(("a", s("y")), ("b", i64(2)))),
         [{"a": "x", "b": 1}, {"a": "y", "b": 2}])]),
]

# Values the encoder must refuse with a data error that names the type and the value.
REFUSED = [
    ("Int8", i64(128), "expects Int8 but got int64 128: is outside -128..=127"),
    ("UInt256", s(str(2 ** 256)), "is outside 0..=2^256-1"),
    ("Int256", s(str(-(2 ** 255) - 1)), "is outside -2^255..=2^255-1"),
    ("Decimal(76, 0)", s("9" * 77), "has more than 76 digits"),
    ("DateTime64(9, 'UTC')", s("2299-12-31T23:59:59Z"), "is out of range"),
    ("Tuple(String, UInt8)", arr(s("x")), "has 1 elements but the Tuple has 2"),
    ("Tuple(a String, b UInt8)", mp((s("a"), s("x"))), "has no field `b`"),
    ("Map(String, UInt8)", mp((s("k"), s("x"))), 'at key "k": expects UInt8 but got string "x"'),
]

# How ClickHouse renders: big integers and decimals as exact strings, decimals with their scale,
# times without a zone in UTC, and Nested as one Array(Tuple) column.
SETTINGS = ("output_format_json_quote_64bit_integers = 1, output_format_json_quote_decimals = 1, "
            "output_format_decimal_trailing_zeros = 1, output_format_json_quote_denormals = 1, "
            "session_timezone = 'UTC', flatten_nested = 0")


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def chdb_query(sql: str) -> list[dict]:
    out = chdb.query(sql, "JSONEachRow")
    text = out.bytes().decode() if hasattr(out, "bytes") else str(out)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def rowbinary_sample() -> Path:
    """The example binary, built by cargo (a no-op after `cargo test --workspace`)."""
    build = ["cargo", "build", "--quiet", "--locked", "-p", "sluice-clickhouse", "--example", "rowbinary_sample"]
    subprocess.run(build, cwd=REPO, check=True)
    return REPO / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "examples" / "rowbinary_sample"


def write_samples(binary: Path, cases: list[dict]) -> list[dict]:
    """Runs the example once for all `cases`; its reply line for each."""
    lines = "".join(json.dumps(case) + "\n" for case in cases)
    done = subprocess.run([binary], input=lines, capture_output=True, text=True, check=True, timeout=60)
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(replies) == len(cases), done.stderr
    return replies


@pytest.fixture(scope="module")
def written(rowbinary_sample, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Every case written once: structure → (file, the example's reply)."""
    folder = tmp_path_factory.mktemp("rowbinary")
    inputs = [{"structure": ty, "values": [tagged for tagged, _ in rows], "out": str(folder / f"case{i}.bin")}
              for i, (ty, rows) in enumerate(CASES)]
    replies = write_samples(rowbinary_sample, inputs)
    return {ty: (Path(case["out"]), reply) for (ty, _), case, reply in zip(CASES, inputs, replies)}


def test_every_case_is_a_distinct_type():
    assert len({ty for ty, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("ty, rows", CASES, ids=[ty for ty, _ in CASES])
def test_clickhouse_reads_back_what_the_encoder_wrote(written, ty, rows):
    path, reply = written[ty]
    assert reply == {"rows": len(rows)}, reply
    got = chdb_query(f"SELECT c FROM file({sql_string(str(path))}, RowBinary, {sql_string('c ' + ty)}) "
                     f"SETTINGS {SETTINGS}")
    assert [row["c"] for row in got] == [want for _, want in rows]


def test_encoder_refuses_values_the_type_cannot_hold(rowbinary_sample, tmp_path):
    inputs = [{"structure": ty, "values": [value], "out": str(tmp_path / f"refused{i}.bin")}
              for i, (ty, value, _) in enumerate(REFUSED)]
    for (ty, _, reason), reply in zip(REFUSED, write_samples(rowbinary_sample, inputs)):
        assert reason in reply.get("error", ""), (ty, reply)


def test_clickhouse_refuses_nullable_array(tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with pytest.raises(Exception, match="cannot be inside Nullable type"):
        chdb_query(f"SELECT c FROM file({sql_string(str(path))}, RowBinary, 'c Nullable(Array(UInt8))')")
