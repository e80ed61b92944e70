//! Schemas by id from a Confluent-compatible registry, cached once per id per worker.
//!
//! HTTP, failover over several URLs and authentication are `schema_registry_converter`'s; this
//! module adds the process-wide cache, resolution of referenced schemas (Protobuf imports, Avro
//! and JSON Schema references) and the split of failures into retriable (registry unreachable or
//! overloaded) and per-record (the registry does not know the id).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use schema_registry_converter::async_impl::schema_registry::{
    get_referenced_schema, get_schema_by_id, perform_sr_call, SrSettings,
};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{RegisteredReference, RegisteredSchema, SchemaType, SrCall};
use sluice_api::{ConnectError, Result};

use super::config::{RegistryAuth, RegistryConfig};

/// The format of a registered schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    Avro,
    Json,
    Protobuf,
}

impl SchemaKind {
    pub fn name(self) -> &'static str {
        match self {
            SchemaKind::Avro => "AVRO",
            SchemaKind::Json => "JSON",
            SchemaKind::Protobuf => "PROTOBUF",
        }
    }
}

/// A schema as the registry holds it, with every schema it references (transitively).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedSchema {
    pub id: u32,
    pub kind: SchemaKind,
    /// The schema text (Avro JSON, JSON Schema, or a `.proto` file).
    pub text: String,
    /// Referenced schemas as `(name used to import it, schema text)`, dependencies first.
    pub references: Vec<(String, String)>,
    /// Subject and version, when the registry's answer includes them.
    pub subject: Option<String>,
    pub version: Option<u32>,
}

/// How long an id the registry said it does not know is remembered before asking again.
const UNKNOWN_ID_MEMORY: Duration = Duration::from_secs(30);

/// One registry (one set of URLs and credentials) and what was fetched from it.
pub struct SchemaRegistry {
    settings: SrSettings,
    /// Where the registry is, for messages.
    location: String,
    schemas: RwLock<HashMap<u32, Arc<FetchedSchema>>>,
    /// Versions of schema ids under subjects, as the registry answered (`None`: not there).
    versions: Mutex<HashMap<(String, u32), Option<u32>>>,
    /// Ids the registry answered with a permanent error for, with that error.
    unknown: Mutex<HashMap<u32, (String, Instant)>>,
    fetches: AtomicU64,
}

impl SchemaRegistry {
    /// The registry client for `config`, shared by every converter of this process that uses
    /// the same registry settings, so each schema id is fetched once per worker.
    pub fn shared(config: &RegistryConfig) -> Result<Arc<SchemaRegistry>> {
        static SHARED: OnceLock<Mutex<HashMap<RegistryConfig, Arc<SchemaRegistry>>>> = OnceLock::new();
        let mut shared = SHARED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(registry) = shared.get(config) {
            return Ok(registry.clone());
        }
        let registry = Arc::new(SchemaRegistry::new(config)?);
        shared.insert(config.clone(), registry.clone());
        Ok(registry)
    }

    /// A registry client of its own (tests; [`SchemaRegistry::shared`] otherwise).
    pub fn new(config: &RegistryConfig) -> Result<SchemaRegistry> {
        let mut builder = SrSettings::new_builder(config.urls[0].clone());
        for url in &config.urls[1..] {
            builder.add_url(url.clone());
        }
        match &config.auth {
            RegistryAuth::None => {}
            RegistryAuth::Basic { user, password } => {
                builder.set_basic_authorization(user, password.as_deref());
            }
            RegistryAuth::Bearer(token) => {
                builder.set_token_authorization(token);
            }
        }
        builder.set_timeout(config.timeout);
        let mut client = reqwest::Client::builder();
        if let Some(pem) = &config.trusted_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                ConnectError::config(
                    super::config::keys::TRUSTSTORE_LOCATION,
                    format!("The truststore is not a PEM certificate bundle: {e}"),
                )
            })?;
            for certificate in certificates {
                client = client.add_root_certificate(certificate);
            }
        }
        if !config.verify_hostname {
            client = client.danger_accept_invalid_hostnames(true);
        }
        let settings = builder.build_with(client).map_err(|e| {
            ConnectError::config(super::config::keys::URL, format!("Cannot build the registry client: {e}"))
        })?;
        Ok(SchemaRegistry {
            settings,
            location: config.urls.join(","),
            schemas: RwLock::default(),
            versions: Mutex::default(),
            unknown: Mutex::default(),
            fetches: AtomicU64::new(0),
        })
    }

    /// The schema with `id`, if it was fetched already.
    pub fn cached(&self, id: u32) -> Option<Arc<FetchedSchema>> {
        self.schemas.read().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// How many schemas were fetched from the registry (references included).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The schema with `id`, from the cache or the registry.
    ///
    /// `Retriable` when the registry cannot be reached or is overloaded (try the batch again
    /// later); `Data` when the registry answers that it has no such schema, or the schema is of
    /// a kind Sluice does not decode (the record cannot be decoded, ever).
    pub async fn fetch(&self, id: u32) -> Result<Arc<FetchedSchema>> {
        if let Some(schema) = self.cached(id) {
            return Ok(schema);
        }
        if let Some(error) = self.remembered_unknown(id) {
            return Err(ConnectError::data(error));
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let registered = match get_schema_by_id(id, &self.settings).await {
            Ok(registered) => registered,
            Err(e) => return Err(self.failure(id, &format!("Fetching schema id {id}"), e)),
        };
        let kind = kind_of(&registered).map_err(|message| self.remember_unknown(id, message))?;
        let mut references = Vec::new();
        self.resolve_references(id, &registered, &mut references).await?;
        let fetched = Arc::new(FetchedSchema {
            id,
            kind,
            text: registered.schema,
            references,
            subject: registered.subject,
            version: registered.version,
        });
        self.schemas.write().unwrap_or_else(|p| p.into_inner()).insert(id, fetched.clone());
        Ok(fetched)
    }

    /// The version `schema` has under `subject` (`POST /subjects/{subject}`, as Confluent's
    /// deserializers ask it), remembered per subject and id. `None` when it is not registered
    /// there or the registry cannot say; the version is informative, so nothing fails for it.
    pub async fn version_in(&self, subject: &str, schema: &FetchedSchema) -> Option<u32> {
        let key = (subject.to_owned(), schema.id);
        if let Some(known) = self.versions.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return *known;
        }
        let mut body = serde_json::json!({ "schema": schema.text });
        if schema.kind != SchemaKind::Avro {
            body["schemaType"] = schema.kind.name().into();
        }
        let body = body.to_string();
        match perform_sr_call(&self.settings, SrCall::PostForVersion(subject, &body)).await {
            Ok(found) => {
                self.versions.lock().unwrap_or_else(|p| p.into_inner()).insert(key, found.version);
                found.version
            }
            Err(e) if e.retriable => None,
            Err(_) => {
                self.versions.lock().unwrap_or_else(|p| p.into_inner()).insert(key, None);
                None
            }
        }
    }

    /// Appends the schemas `schema` references, each once, dependencies before dependents.
    async fn resolve_references(
        &self,
        id: u32,
        schema: &RegisteredSchema,
        out: &mut Vec<(String, String)>,
    ) -> Result<()> {
        self.resolve(id, &schema.references, out, 0).await
    }

    async fn resolve(
        &self,
        id: u32,
        references: &[RegisteredReference],
        out: &mut Vec<(String, String)>,
        depth: usize,
    ) -> Result<()> {
        if depth > 32 {
            return Err(self.remember_unknown(id, format!("Schema id {id} nests references more than 32 deep.")));
        }
        for reference in references {
            if out.iter().any(|(name, _)| *name == reference.name) {
                continue;
            }
            self.fetches.fetch_add(1, Ordering::Relaxed);
            let child = get_referenced_schema(&self.settings, reference).await.map_err(|e| {
                self.failure(
                    id,
                    &format!(
                        "Fetching {:?} (subject {}, version {}), referenced by schema id {id},",
                        reference.name, reference.subject, reference.version
                    ),
                    e,
                )
            })?;
            Box::pin(self.resolve(id, &child.references, out, depth + 1)).await?;
            if !out.iter().any(|(name, _)| *name == reference.name) {
                out.push((reference.name.clone(), child.schema));
            }
        }
        Ok(())
    }

    fn failure(&self, id: u32, what: &str, e: SRCError) -> ConnectError {
        let message = format!("{what} from the schema registry at {} failed: {}", self.location, describe(&e));
        if let Some(status) = refused_status(&e) {
            // Wrong or missing credentials fail every record alike: not a bad record to
            // dead-letter but a setting to fix, so the task fails with the reason (nothing is
            // committed past it; a restart after the fix resumes where it stopped).
            return ConnectError::fatal(format!(
                "{message}. The registry refused the request (HTTP {status}): check \
                 basic.auth.credentials.source / basic.auth.user.info (or bearer.auth.token)."
            ));
        }
        if e.retriable {
            ConnectError::retriable(message)
        } else {
            self.remember_unknown(id, message)
        }
    }

    fn remember_unknown(&self, id: u32, message: String) -> ConnectError {
        self.unknown.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (message.clone(), Instant::now()));
        ConnectError::data(message)
    }

    fn remembered_unknown(&self, id: u32) -> Option<String> {
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        match unknown.get(&id) {
            Some((message, at)) if at.elapsed() < UNKNOWN_ID_MEMORY => Some(message.clone()),
            Some(_) => {
                unknown.remove(&id);
                None
            }
            None => None,
        }
    }
}

fn kind_of(registered: &RegisteredSchema) -> std::result::Result<SchemaKind, String> {
    match &registered.schema_type {
        SchemaType::Avro => Ok(SchemaKind::Avro),
        SchemaType::Json => Ok(SchemaKind::Json),
        SchemaType::Protobuf => Ok(SchemaKind::Protobuf),
        other => Err(format!("Schema id {} has type {other:?}, which Sluice cannot decode.", registered.id)),
    }
}

/// 401 or 403 from the registry. `schema_registry_converter` reports HTTP statuses only in its
/// message ("... failed with status 401 Unauthorized"), so this is the one place that reads it.
fn refused_status(e: &SRCError) -> Option<u16> {
    [401u16, 403].into_iter().find(|code| e.error.contains(&format!("status {code}")))
}

/// The registry's own words (`error_code`/`message`) where it gave them.
fn describe(e: &SRCError) -> String {
    match &e.cause {
        Some(cause) => format!("{} ({cause})", e.error),
        None => e.error.clone(),
    }
}
