//! The `Converter` shared by every registry-backed format.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use sluice_api::{ConnectError, ConnectorConfig, Converter, Datum, DatumReader, Header, Result, SchemaAndValue};

use super::client::{FetchedSchema, SchemaKind, SchemaRegistry};
use super::config::{RegistryConfig, SubjectNameStrategy};
use super::wire;

/// One schema format read through the registry (Avro, JSON Schema, Protobuf).
pub trait WireFormat: Send + Sync + 'static {
    /// What [`WireFormat::parse`] makes of a schema; kept per schema id and shared by every
    /// record written with it, so a sink sees one schema per registered version.
    type Parsed: Send + Sync + 'static;

    /// The registry schema type this format decodes.
    const KIND: SchemaKind;

    /// Parses a registered schema. Called once per schema id and converter.
    fn parse(&self, schema: &FetchedSchema) -> Result<Self::Parsed>;

    /// Decodes `payload` (what follows the 5-byte header) written with `parsed`.
    fn decode(&self, parsed: &Self::Parsed, payload: &[u8]) -> Result<SchemaAndValue>;

    /// The fully qualified name of the schema's record, for the Record and TopicRecord subject
    /// name strategies; `None` when the format has none.
    fn record_name(&self, _schema: &FetchedSchema) -> Option<String> {
        None
    }

    /// `parsed` as the reader of its datums handed to a sink undecoded
    /// ([`Converter::undecoded`]); `None` (the default) to decode every value here.
    fn datum_reader(_parsed: &Arc<Self::Parsed>) -> Option<Arc<dyn DatumReader>> {
        None
    }
}

/// How long a schema id that could not be fetched or parsed fails records without asking again.
const FAILED_ID_MEMORY: Duration = Duration::from_secs(30);

/// A converter for registry-framed records of format `F`.
pub struct RegistryConverter<F: WireFormat> {
    format: F,
    registry: Arc<SchemaRegistry>,
    /// How the producer named the subject (for the schema's version), and which side this reads.
    strategy: SubjectNameStrategy,
    is_key: bool,
    parsed: RwLock<HashMap<u32, Arc<F::Parsed>>>,
    /// Ids whose schema cannot be used, with why and since when.
    failed: RwLock<HashMap<u32, (String, Instant)>>,
}

impl<F: WireFormat> RegistryConverter<F> {
    /// A converter using the process-wide client for the registry in `config`.
    pub fn from_config(format: F, config: &ConnectorConfig, is_key: bool) -> Result<Self> {
        let registry_config = RegistryConfig::from_config(config, is_key)?;
        let registry = SchemaRegistry::shared(&registry_config)?;
        let mut converter = Self::with_registry(format, registry);
        converter.strategy = registry_config.subject_name_strategy;
        converter.is_key = is_key;
        Ok(converter)
    }

    /// A value converter with the default (topic name) subject strategy.
    pub fn with_registry(format: F, registry: Arc<SchemaRegistry>) -> Self {
        RegistryConverter {
            format,
            registry,
            strategy: SubjectNameStrategy::TopicName,
            is_key: false,
            parsed: RwLock::default(),
            failed: RwLock::default(),
        }
    }

    pub fn format(&self) -> &F {
        &self.format
    }

    /// The registry client (shared with every converter of this worker using the same registry).
    pub fn registry(&self) -> &Arc<SchemaRegistry> {
        &self.registry
    }

    fn lookup(&self, id: u32) -> Option<std::result::Result<Arc<F::Parsed>, String>> {
        if let Some(parsed) = self.parsed.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Some(Ok(parsed.clone()));
        }
        let failed = self.failed.read().unwrap_or_else(|p| p.into_inner());
        match failed.get(&id) {
            Some((why, at)) if at.elapsed() < FAILED_ID_MEMORY => Some(Err(why.clone())),
            _ => None,
        }
    }

    /// Fetches and parses schema `id`, first seen on `topic`; a retriable error leaves it for
    /// the next attempt.
    async fn load(&self, id: u32, topic: &str) -> Result<()> {
        let fetched = match self.registry.fetch(id).await {
            Ok(schema) if schema.kind == F::KIND && schema.version.is_none() => {
                Ok(self.with_version(schema, topic).await)
            }
            other => other,
        };
        let outcome = match fetched {
            Ok(schema) if schema.kind != F::KIND => Err(format!(
                "Schema id {id} is a {} schema, but this converter reads {} (check key.converter / value.converter).",
                schema.kind.name(),
                F::KIND.name()
            )),
            Ok(schema) => self.format.parse(&schema).map_err(|e| format!("Schema id {id} cannot be used: {e}")),
            // An outage (retried by the runtime) or refused credentials (the task fails): neither
            // is about this schema id, so no record is failed for it.
            Err(e) if e.is_retriable() || matches!(e, ConnectError::Fatal { .. }) => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(parsed) => {
                self.failed.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
                self.parsed.write().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::new(parsed));
            }
            Err(why) => {
                self.failed.write().unwrap_or_else(|p| p.into_inner()).insert(id, (why, Instant::now()));
            }
        }
        Ok(())
    }
}

impl<F: WireFormat> RegistryConverter<F> {
    /// `schema` with its version under the subject the producer's strategy registered it in
    /// (Confluent's deserializers do the same lookup), when the registry's answer by id did not
    /// carry one. The version becomes the Connect schema's `version`.
    async fn with_version(&self, schema: Arc<FetchedSchema>, topic: &str) -> Arc<FetchedSchema> {
        let record_name = self.format.record_name(&schema);
        let Some(subject) = self.strategy.subject(topic, self.is_key, record_name.as_deref()) else {
            return schema;
        };
        match self.registry.version_in(&subject, &schema).await {
            Some(version) => Arc::new(FetchedSchema { version: Some(version), ..(*schema).clone() }),
            None => schema,
        }
    }
}

#[async_trait]
impl<F: WireFormat> Converter for RegistryConverter<F> {
    async fn prepare(&self, topic: &str, payloads: &[Option<&[u8]>]) -> Result<()> {
        let mut missing: Vec<u32> = Vec::new();
        for id in payloads.iter().filter_map(|p| p.and_then(wire::schema_id)) {
            if !missing.contains(&id) && self.lookup(id).is_none() {
                missing.push(id);
            }
        }
        for id in missing {
            self.load(id, topic).await?;
        }
        Ok(())
    }

    fn to_connect(&self, _topic: &str, _headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::null());
        };
        let (id, payload) = wire::split(data)?;
        match self.lookup(id) {
            Some(Ok(parsed)) => self.format.decode(&parsed, payload),
            Some(Err(why)) => Err(ConnectError::data(why)),
            None => Err(ConnectError::retriable(format!("Schema id {id} has not been fetched from the registry yet."))),
        }
    }

    fn undecoded(&self, data: &Bytes) -> Option<Datum> {
        let (id, payload) = wire::split(data).ok()?;
        // Under the read lock: one reference taken, for the reader.
        let reader = F::datum_reader(self.parsed.read().unwrap_or_else(|p| p.into_inner()).get(&id)?)?;
        let start = data.len() - payload.len();
        Some(Datum { reader, data: data.slice(start..) })
    }
}
