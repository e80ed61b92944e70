//! Unit tests for `build_chain` and `Conditional`.

use super::*;
use crate::test_support::*;
use sluice_api::{PluginDesc, PluginKind, Value};

fn run(chain: &TransformChain, record: SinkRecord) -> Option<SinkRecord> {
    chain
        .iter()
        .try_fold(Some(record), |r, (_, t)| match r {
            Some(r) => t.apply(r),
            None => Ok(None),
        })
        .unwrap()
}

fn on_topic(topic: &str, value: Value) -> SinkRecord {
    let mut r = value_record(None, value);
    r.topic = Arc::from(topic);
    r
}

const EXAMPLE: &[(&str, &str)] = &[
    ("transforms", "dropTombstones,route"),
    ("transforms.dropTombstones.type", "org.apache.kafka.connect.transforms.Filter"),
    ("transforms.dropTombstones.predicate", "isTombstone"),
    ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
    ("transforms.route.regex", "(.*)"),
    ("transforms.route.replacement", "$1_v2"),
    ("transforms.route.predicate", "isLegacy"),
    ("transforms.route.negate", "true"),
    ("predicates", "isTombstone,isLegacy"),
    ("predicates.isTombstone.type", "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"),
    ("predicates.isLegacy.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
    ("predicates.isLegacy.pattern", "legacy-.*"),
];

#[test]
fn no_transforms_is_an_empty_chain() {
    assert!(build_chain(None, &cfg(&[("topics", "t")])).unwrap().is_empty());
}

#[test]
fn predicates_and_negation_select_records() {
    let chain = build_chain(None, &cfg(EXAMPLE)).unwrap();
    let aliases: Vec<_> = chain.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(aliases, ["dropTombstones", "route"]);
    assert!(run(&chain, on_topic("orders", Value::Null)).is_none());
    assert_eq!(run(&chain, on_topic("orders", Value::from("x"))).unwrap().topic.as_ref(), "orders_v2");
    assert_eq!(run(&chain, on_topic("legacy-orders", Value::from("x"))).unwrap().topic.as_ref(), "legacy-orders");
}

#[test]
fn conditional_truth_table() {
    let tombstone: Arc<dyn Predicate> = Arc::new(crate::predicates::RecordIsTombstone);
    for (negate, value, dropped) in [
        (false, Value::Null, true),
        (false, Value::from("v"), false),
        (true, Value::Null, false),
        (true, Value::from("v"), true),
    ] {
        let c = Conditional::new(tombstone.clone(), negate, Box::new(crate::filter::Filter));
        assert_eq!(c.apply(value_record(None, value.clone())).unwrap().is_none(), dropped, "{negate} {value:?}");
    }
}

#[test]
fn sluice_and_short_class_names_work_too() {
    let config = cfg(&[
        ("transforms", "a,b,c"),
        ("transforms.a.type", "io.sluice.connect.transforms.InsertField$Value"),
        ("transforms.a.topic.field", "topic"),
        ("transforms.b.type", "ReplaceField$Value"),
        ("transforms.b.renames", "topic:source_topic"),
        ("transforms.c.type", "io.sluice.connect.transforms.KeyToValue"),
    ]);
    let chain = build_chain(None, &config).unwrap();
    let out = run(&chain, record(None, Value::Int64(7), None, map(&[("n", Value::Int64(1))]))).unwrap();
    assert_eq!(
        out.value,
        map(&[("n", Value::Int64(1)), ("source_topic", Value::from("test")), ("_key", Value::Int64(7))])
    );
}

fn error_key(pairs: &[(&str, &str)]) -> String {
    build_chain(None, &cfg(pairs)).err().expect("an error").config_key().expect("a config error").to_owned()
}

#[test]
fn errors_name_the_full_key() {
    assert_eq!(error_key(&[("transforms", "a")]), "transforms.a.type");
    assert_eq!(error_key(&[("transforms", "a"), ("transforms.a.type", "com.example.Nope")]), "transforms.a.type");
    assert_eq!(
        error_key(&[
            ("transforms", "r"),
            ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"),
            ("transforms.r.regex", "(")
        ]),
        "transforms.r.regex"
    );
    assert_eq!(
        error_key(&[
            ("transforms", "c"),
            ("transforms.c.type", "org.apache.kafka.connect.transforms.Cast$Value"),
            ("transforms.c.spec", "a:nope")
        ]),
        "transforms.c.spec"
    );
    assert_eq!(error_key(&[("transforms", "a,a"), ("transforms.a.type", "Filter")]), "transforms");
    assert_eq!(error_key(&[("predicates", "p,p"), ("predicates.p.type", "RecordIsTombstone")]), "predicates");
}

#[test]
fn predicate_errors_name_the_full_key() {
    let filter = [("transforms", "f"), ("transforms.f.type", "org.apache.kafka.connect.transforms.Filter")];
    let with = |extra: &[(&'static str, &'static str)]| error_key(&[&filter[..], extra].concat());
    assert_eq!(with(&[("transforms.f.predicate", "p")]), "transforms.f.predicate");
    assert_eq!(with(&[("transforms.f.negate", "true")]), "transforms.f.negate");
    assert_eq!(
        with(&[
            ("transforms.f.predicate", "p"),
            ("transforms.f.negate", "maybe"),
            ("predicates", "p"),
            ("predicates.p.type", "RecordIsTombstone")
        ]),
        "transforms.f.negate"
    );
    assert_eq!(with(&[("predicates", "p")]), "predicates.p.type");
    assert_eq!(
        with(&[("predicates", "p"), ("predicates.p.type", "org.apache.kafka.connect.transforms.Filter")]),
        "predicates.p.type"
    );
    // An unused predicate is still validated, as Kafka does.
    assert_eq!(
        with(&[
            ("predicates", "p"),
            ("predicates.p.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
            ("predicates.p.pattern", "[")
        ]),
        "predicates.p.pattern"
    );
}

#[test]
fn transforms_do_not_see_predicate_and_negate() {
    let mut registry = PluginRegistry::new();
    registry.add_transform(
        PluginDesc { class: "test.Strict", aliases: &[], kind: PluginKind::Transformation, version: "1" },
        |c| match (c.get("predicate"), c.get("negate"), c.get("type")) {
            (None, None, Some("test.Strict")) => Ok(Box::new(crate::filter::Filter)),
            _ => Err(ConnectError::config("predicate", "saw implicit keys")),
        },
    );
    registry.add_predicate(
        PluginDesc { class: "test.Always", aliases: &[], kind: PluginKind::Predicate, version: "1" },
        |_| Ok(Box::new(crate::predicates::RecordIsTombstone)),
    );
    let config = cfg(&[
        ("transforms", "s"),
        ("transforms.s.type", "test.Strict"),
        ("transforms.s.predicate", "p"),
        ("transforms.s.negate", "false"),
        ("predicates", "p"),
        ("predicates.p.type", "test.Always"),
    ]);
    let chain = build_chain(Some(&registry), &config).unwrap();
    assert!(run(&chain, value_record(None, Value::Null)).is_none());
    assert!(run(&chain, value_record(None, Value::from("v"))).is_some());
}
