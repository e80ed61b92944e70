//! Kafka Connect's single message transforms (SMTs) and predicates, for Sluice, plus Sluice's
//! own `KeyToValue`. Each behaves as Kafka's documents and tests say, on schema'd (struct)
//! and schemaless (map) data alike, and takes Kafka's config keys, so connector configs
//! written for Kafka Connect work unchanged.
//!
//! [`register`] adds every transform and predicate to a [`PluginRegistry`] under Sluice's class
//! name (`io.sluice.connect.transforms.Cast$Value`) with Kafka's as an alias
//! (`org.apache.kafka.connect.transforms.Cast$Value`); [`build_chain`] turns a connector's
//! `transforms` / `predicates` keys into the chain the worker runs.
//!
//! # Layout
//! - [`chain`]: `build_chain` (the `transforms.*` and `predicates.*` keys → a chain, errors naming
//!   the full key) and `Conditional`, a transform gated by a predicate and `negate`.
//! - [`predicates`]: `HasHeaderKey`, `RecordIsTombstone`, `TopicNameMatches`.
//! - [`cast`]: `Cast` (field or whole-value casts with Java's conversion rules).
//! - [`extract_field`]: `ExtractField` (incl. KIP-821 nested paths).
//! - [`filter`]: `Filter`, which drops records; meant for use with a predicate.
//! - [`flatten`]: `Flatten`, nested structs and maps to one level.
//! - [`headers`]: `DropHeaders`, `InsertHeader`, `HeaderFrom`.
//! - [`hoist_field`]: `HoistField`, which wraps the key or value in a one-field struct.
//! - [`insert_field`]: `InsertField`, record metadata or a static value as new fields.
//! - [`key_value`]: `ValueToKey`, and Sluice's `KeyToValue`.
//! - [`mask_field`]: `MaskField`, fields replaced by empty values or a replacement.
//! - [`replace_field`]: `ReplaceField`, fields kept, dropped or renamed.
//! - [`routers`]: `RegexRouter`, `TimestampRouter`.
//! - [`set_schema_metadata`]: `SetSchemaMetadata`, the schema's name and version.
//! - [`timestamp_converter`]: `TimestampConverter`, between strings, Unix times and Connect types.
//! - [`util`]: what the transforms share: `Side` ($Key/$Value), `SchemaCache` (updated schemas
//!   built once per input schema), Kafka's requirement checks, struct/map access, config helpers.
//! - [`field_path`]: KIP-821 field paths (`field.syntax.version` V1/V2).
//! - [`date_format`]: Java `SimpleDateFormat` patterns translated to chrono, always UTC.

pub mod cast;
pub mod chain;
pub mod date_format;
pub mod extract_field;
pub mod field_path;
pub mod filter;
pub mod flatten;
pub mod headers;
pub mod hoist_field;
pub mod insert_field;
pub mod key_value;
pub mod mask_field;
pub mod predicates;
pub mod replace_field;
pub mod routers;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod util;

#[cfg(test)]
mod test_support;

use sluice_api::{PluginDesc, PluginKind, PluginRegistry};

pub use chain::{build_chain, builtin_registry, Conditional, TransformChain};
pub use util::Side;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn transform_desc(class: &'static str, aliases: &'static [&'static str]) -> PluginDesc {
    PluginDesc { class, aliases, kind: PluginKind::Transformation, version: VERSION }
}

/// Registers a transform that has `$Key` and `$Value` variants, each built by `$ty::new(config, side)`.
macro_rules! sided {
    ($registry:expr, $name:literal, $ty:ty) => {
        $registry.add_transform(
            transform_desc(
                concat!("io.sluice.connect.transforms.", $name, "$Key"),
                &[concat!("org.apache.kafka.connect.transforms.", $name, "$Key")],
            ),
            |config| Ok(Box::new(<$ty>::new(config, Side::Key)?)),
        );
        $registry.add_transform(
            transform_desc(
                concat!("io.sluice.connect.transforms.", $name, "$Value"),
                &[concat!("org.apache.kafka.connect.transforms.", $name, "$Value")],
            ),
            |config| Ok(Box::new(<$ty>::new(config, Side::Value)?)),
        );
    };
}

/// Registers a transform without key/value variants, built by `$ty::new(config)`.
macro_rules! single {
    ($registry:expr, $name:literal, $ty:ty) => {
        $registry.add_transform(
            transform_desc(
                concat!("io.sluice.connect.transforms.", $name),
                &[concat!("org.apache.kafka.connect.transforms.", $name)],
            ),
            |config| Ok(Box::new(<$ty>::new(config)?)),
        );
    };
}

/// Registers a predicate, built by `$ty::new(config)`.
macro_rules! predicate {
    ($registry:expr, $name:literal, $ty:ty) => {
        $registry.add_predicate(
            PluginDesc {
                class: concat!("io.sluice.connect.transforms.predicates.", $name),
                aliases: &[concat!("org.apache.kafka.connect.transforms.predicates.", $name)],
                kind: PluginKind::Predicate,
                version: VERSION,
            },
            |config| Ok(Box::new(<$ty>::new(config)?)),
        );
    };
}

/// Adds every transform and predicate of this crate to `registry`.
pub fn register(registry: &mut PluginRegistry) {
    sided!(registry, "Cast", cast::Cast);
    single!(registry, "DropHeaders", headers::DropHeaders);
    sided!(registry, "ExtractField", extract_field::ExtractField);
    single!(registry, "Filter", filter::Filter);
    sided!(registry, "Flatten", flatten::Flatten);
    sided!(registry, "HeaderFrom", headers::HeaderFrom);
    sided!(registry, "HoistField", hoist_field::HoistField);
    sided!(registry, "InsertField", insert_field::InsertField);
    single!(registry, "InsertHeader", headers::InsertHeader);
    sided!(registry, "MaskField", mask_field::MaskField);
    single!(registry, "RegexRouter", routers::RegexRouter);
    sided!(registry, "ReplaceField", replace_field::ReplaceField);
    sided!(registry, "SetSchemaMetadata", set_schema_metadata::SetSchemaMetadata);
    sided!(registry, "TimestampConverter", timestamp_converter::TimestampConverter);
    single!(registry, "TimestampRouter", routers::TimestampRouter);
    single!(registry, "ValueToKey", key_value::ValueToKey);
    registry.add_transform(transform_desc("io.sluice.connect.transforms.KeyToValue", &[]), |config| {
        Ok(Box::new(key_value::KeyToValue::new(config)?))
    });
    predicate!(registry, "HasHeaderKey", predicates::HasHeaderKey);
    predicate!(registry, "RecordIsTombstone", predicates::RecordIsTombstone);
    predicate!(registry, "TopicNameMatches", predicates::TopicNameMatches);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::cfg;

    #[test]
    fn registers_every_kafka_class_name() {
        let registry = builtin_registry();
        let sided = [
            "Cast",
            "ExtractField",
            "Flatten",
            "HeaderFrom",
            "HoistField",
            "InsertField",
            "MaskField",
            "ReplaceField",
            "SetSchemaMetadata",
            "TimestampConverter",
        ];
        let single = ["DropHeaders", "Filter", "InsertHeader", "RegexRouter", "TimestampRouter", "ValueToKey"];
        let mut names: Vec<String> = sided.iter().flat_map(|n| [format!("{n}$Key"), format!("{n}$Value")]).collect();
        names.extend(single.iter().map(|n| n.to_string()));
        for name in &names {
            let kafka = format!("org.apache.kafka.connect.transforms.{name}");
            let desc = registry.describe(&kafka).unwrap_or_else(|| panic!("{kafka} is not registered"));
            assert_eq!(desc.class, format!("io.sluice.connect.transforms.{name}"));
            assert_eq!(desc.kind, PluginKind::Transformation);
        }
        assert_eq!(registry.plugins().filter(|p| p.kind == PluginKind::Transformation).count(), names.len() + 1);
        for name in ["HasHeaderKey", "RecordIsTombstone", "TopicNameMatches"] {
            let desc = registry.describe(&format!("org.apache.kafka.connect.transforms.predicates.{name}")).unwrap();
            assert_eq!(desc.kind, PluginKind::Predicate);
        }
        assert!(registry.describe("io.sluice.connect.transforms.KeyToValue").is_some());
    }

    #[test]
    fn factories_build_both_sides() {
        let registry = builtin_registry();
        let config = cfg(&[("field", "f")]);
        assert!(registry.transform("type", "org.apache.kafka.connect.transforms.HoistField$Key", &config).is_ok());
        assert!(registry.transform("type", "HoistField$Value", &config).is_ok());
        let err =
            registry.transform("type", "org.apache.kafka.connect.transforms.Cast$Value", &cfg(&[])).err().unwrap();
        assert_eq!(err.config_key(), Some("spec"));
        assert!(registry.predicate("type", "RecordIsTombstone", &cfg(&[])).is_ok());
    }
}
