//! The transform chain of a connector, built from Kafka Connect's keys as its
//! `ConnectorConfig.transformationStages` does:
//!
//! ```properties
//! transforms=dropTombstones,route
//! transforms.dropTombstones.type=org.apache.kafka.connect.transforms.Filter
//! transforms.dropTombstones.predicate=isTombstone
//! transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
//! transforms.route.regex=(.*)
//! transforms.route.replacement=$1_v2
//! transforms.route.predicate=isLegacy
//! transforms.route.negate=true
//! predicates=isTombstone,isLegacy
//! predicates.isTombstone.type=org.apache.kafka.connect.transforms.predicates.RecordIsTombstone
//! predicates.isLegacy.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
//! predicates.isLegacy.pattern=legacy-.*
//! ```
//!
//! Every listed predicate is built (so a broken one is reported even when unused), a transform
//! with a predicate is wrapped in [`Conditional`], and every error names the full key
//! (`transforms.route.regex`, `predicates.isLegacy.pattern`).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};

use sluice_api::{ConnectError, ConnectorConfig, PluginRegistry, Predicate, Result, SinkRecord, Transform};

/// Transforms in the order they run, each with its alias.
pub type TransformChain = Vec<(String, Box<dyn Transform>)>;

pub const TRANSFORMS: &str = "transforms";
pub const PREDICATES: &str = "predicates";

/// A transform that applies only when its predicate holds (or, with `negate`, does not hold);
/// other records pass through unchanged. Kafka's `TransformationStage`.
pub struct Conditional {
    predicate: Arc<dyn Predicate>,
    negate: bool,
    inner: Box<dyn Transform>,
}

impl Conditional {
    pub fn new(predicate: Arc<dyn Predicate>, negate: bool, inner: Box<dyn Transform>) -> Self {
        Conditional { predicate, negate, inner }
    }
}

impl Transform for Conditional {
    fn apply(&self, record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.negate ^ self.predicate.test(&record) {
            self.inner.apply(record)
        } else {
            Ok(Some(record))
        }
    }
}

/// The registry of this crate's transforms and predicates alone, built once.
pub fn builtin_registry() -> &'static PluginRegistry {
    static REGISTRY: OnceLock<PluginRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = PluginRegistry::new();
        crate::register(&mut registry);
        registry
    })
}

/// Puts a plugin's own key (`regex`) under its prefix (`transforms.route.regex`).
fn scoped(prefix: &str) -> impl Fn(ConnectError) -> ConnectError + '_ {
    move |e| match e {
        ConnectError::Config { key, message } if !key.starts_with(prefix) => {
            ConnectError::Config { key: format!("{prefix}{key}"), message }
        }
        other => other,
    }
}

/// The aliases listed under `key`, which must be unique.
fn aliases(config: &ConnectorConfig, key: &str) -> Result<Vec<String>> {
    let list = config.list(key);
    let mut seen = HashSet::new();
    if let Some(dup) = list.iter().find(|a| !seen.insert(a.as_str())) {
        return Err(ConnectError::config(key, format!("Duplicate alias provided: {dup}.")));
    }
    Ok(list)
}

/// Builds the chain `config` (a whole connector config) describes. Transform and predicate
/// classes are looked up in `registry`, or in this crate's built-ins when `None`.
pub fn build_chain(registry: Option<&PluginRegistry>, config: &ConnectorConfig) -> Result<TransformChain> {
    let registry = registry.unwrap_or_else(|| builtin_registry());

    let mut predicates: BTreeMap<String, Arc<dyn Predicate>> = BTreeMap::new();
    for alias in aliases(config, PREDICATES)? {
        let prefix = format!("{PREDICATES}.{alias}.");
        let type_key = format!("{prefix}type");
        let class = config.required(&type_key)?;
        let predicate = registry.predicate(&type_key, class, &config.with_prefix(&prefix)).map_err(scoped(&prefix))?;
        predicates.insert(alias, Arc::from(predicate));
    }

    let mut chain = TransformChain::new();
    for alias in aliases(config, TRANSFORMS)? {
        let prefix = format!("{TRANSFORMS}.{alias}.");
        let type_key = format!("{prefix}type");
        let predicate_key = format!("{prefix}predicate");
        let negate_key = format!("{prefix}negate");
        let class = config.required(&type_key)?;

        // Like Kafka, the transform itself does not see `predicate` and `negate`.
        let mut own = config.with_prefix(&prefix).into_map();
        own.remove("predicate");
        own.remove("negate");
        let transform = registry.transform(&type_key, class, &ConnectorConfig::new(own)).map_err(scoped(&prefix))?;

        let predicate_alias = config.get(&predicate_key).map(str::trim).filter(|p| !p.is_empty());
        let negate = config.bool_or(&negate_key, false)?;
        let stage: Box<dyn Transform> = match predicate_alias {
            Some(p) => {
                let predicate = predicates.get(p).ok_or_else(|| {
                    ConnectError::config(
                        &predicate_key,
                        format!("Predicate {p:?} is not defined; add it to `predicates` and set `predicates.{p}.type`."),
                    )
                })?;
                Box::new(Conditional::new(predicate.clone(), negate, transform))
            }
            None if config.get(&negate_key).is_some() => {
                return Err(ConnectError::config(
                    &negate_key,
                    format!("Config '{negate_key}' was provided but there is no config '{predicate_key}' defining a predicate to be negated."),
                ))
            }
            None => transform,
        };
        chain.push((alias, stage));
    }
    Ok(chain)
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
