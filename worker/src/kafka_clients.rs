//! Kafka client settings: the one place where the worker's and the connectors' Kafka settings,
//! written with the Java client's keys as Kafka Connect users know them, become librdkafka
//! settings, for every client the worker creates.
//!
//! Layers, later ones winning:
//! 1. `bootstrap.servers` and the worker's top-level security keys (`security.protocol`,
//!    `sasl.*`, `ssl.*`), used by every client: the internal-topic readers and writers, the
//!    group membership, admin clients, task consumers and dead letter queue producers;
//! 2. for a task's clients, the worker's `consumer.*`, `producer.*` or `admin.*` keys;
//! 3. the connector's `consumer.override.*`, `producer.override.*` or `admin.override.*`, as
//!    far as the worker's `connector.client.config.override.policy` allows.
//!
//! Kafka Connect itself gives task clients only the prefixed keys; taking the top-level
//! security keys as their base too means a worker configured once for SASL_SSL reaches the
//! cluster with every client, and a prefixed key still wins.
//!
//! Java key → librdkafka: `sasl.jaas.config` (Plain or SCRAM login module) becomes
//! `sasl.username`/`sasl.password`; a PEM or PKCS#12 truststore becomes `ssl.ca.location` or
//! `ssl.ca.pem`; a PEM keystore becomes `ssl.certificate.location` + `ssl.key.location`, a
//! PKCS#12 one stays `ssl.keystore.location` (librdkafka reads PKCS#12); inline PEM
//! (`ssl.truststore.certificates`, `ssl.keystore.certificate.chain`, `ssl.keystore.key`) maps to
//! librdkafka's `*.pem` keys; an empty `ssl.endpoint.identification.algorithm` means `none`.
//! JKS stores cannot be read outside the JVM: they are refused with the keytool command that
//! converts them. Settings only the JVM client has (`ssl.enabled.protocols`, …) are logged and
//! left out. Every other key is passed to librdkafka as written.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;
use sluice_api::ConnectError;
use sluice_api::ConnectorConfig;

use crate::jaas;

/// Worker keys.
pub mod keys {
    pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
    /// Which `*.override.*` keys a connector may set: `All` (default), `Principal` or `None`.
    pub const OVERRIDE_POLICY: &str = "connector.client.config.override.policy";
}

/// Which kind of client a task creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Consumer,
    Producer,
    Admin,
}

impl ClientRole {
    const ALL: [ClientRole; 3] = [ClientRole::Consumer, ClientRole::Producer, ClientRole::Admin];

    /// The worker's prefix for this client's settings.
    pub fn worker_prefix(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer.",
            ClientRole::Producer => "producer.",
            ClientRole::Admin => "admin.",
        }
    }

    /// A connector's prefix for this client's settings.
    pub fn override_prefix(self) -> &'static str {
        match self {
            ClientRole::Consumer => "consumer.override.",
            ClientRole::Producer => "producer.override.",
            ClientRole::Admin => "admin.override.",
        }
    }
}

/// The worker's Kafka client settings, already in librdkafka's terms.
#[derive(Debug, Clone, Default)]
pub struct KafkaClients {
    /// `bootstrap.servers` and the translated top-level security keys.
    base: BTreeMap<String, String>,
    /// The worker's translated `consumer.*`, `producer.*` and `admin.*` keys, by role.
    roles: [BTreeMap<String, String>; 3],
    policy: OverridePolicy,
}

impl KafkaClients {
    /// Reads the worker's keys. Errors name the key (e.g. a JKS truststore, a JAAS line that
    /// does not parse).
    pub fn from_worker(worker: &ConnectorConfig) -> Result<Self, ConnectError> {
        let bootstrap = worker.required(keys::BOOTSTRAP_SERVERS)?.trim().to_owned();
        let security: BTreeMap<String, String> =
            worker.as_map().iter().filter(|(k, _)| is_security_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut base = translate("", &security)?;
        base.insert(keys::BOOTSTRAP_SERVERS.to_owned(), bootstrap);
        let mut roles: [BTreeMap<String, String>; 3] = Default::default();
        for (slot, role) in roles.iter_mut().zip(ClientRole::ALL) {
            *slot = translate(role.worker_prefix(), worker.with_prefix(role.worker_prefix()).as_map())?;
        }
        let policy = OverridePolicy::from_worker(worker)?;
        Ok(KafkaClients { base, roles, policy })
    }

    pub fn bootstrap(&self) -> &str {
        &self.base[keys::BOOTSTRAP_SERVERS]
    }

    pub fn override_policy(&self) -> OverridePolicy {
        self.policy
    }

    /// A config for one of the worker's own clients (internal topics, group membership,
    /// metadata lookups): bootstrap and security only.
    pub fn internal(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (k, v) in &self.base {
            config.set(k, v);
        }
        config
    }

    /// Settings for a client a connector's task creates: `defaults` (Sluice's own choices for
    /// this client), then the layers of the module documentation. `connector` is the resolved
    /// connector config.
    pub fn for_connector(
        &self,
        role: ClientRole,
        defaults: &[(&str, String)],
        connector: &ConnectorConfig,
    ) -> Result<BTreeMap<String, String>, ConnectError> {
        let mut settings = self.base.clone();
        settings.extend(defaults.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        settings.extend(self.roles[role as usize].iter().map(|(k, v)| (k.clone(), v.clone())));
        let overrides = connector.with_prefix(role.override_prefix());
        if let Some(err) = self.policy.check(connector).into_iter().next() {
            return Err(err);
        }
        settings.extend(translate(role.override_prefix(), overrides.as_map())?);
        Ok(settings)
    }
}

/// A ClientConfig holding `settings`.
pub fn client_config(settings: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in settings {
        config.set(k, v);
    }
    config
}

fn is_security_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.")
}

/// Java client settings librdkafka has no counterpart for; they are left out.
const JVM_ONLY: &[&str] = &[
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "ssl.engine.factory.class",
    "ssl.cipher.suites",
    "sasl.login.class",
    "sasl.login.callback.handler.class",
    "sasl.client.callback.handler.class",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.buffer.seconds",
];

/// Turns one layer of Java client settings into librdkafka's. `prefix` is how the keys were
/// written (e.g. `consumer.override.`), so errors name the key the user wrote.
pub fn translate(prefix: &str, settings: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ConnectError> {
    let mut out = BTreeMap::new();
    let get = |key: &str| settings.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut ignored = Vec::new();
    for (key, value) in settings {
        match key.as_str() {
            "sasl.jaas.config" => {
                let (username, password) = jaas_credentials(&format!("{prefix}{key}"), value)?;
                out.insert("sasl.username".to_owned(), username);
                out.insert("sasl.password".to_owned(), password);
            }
            "ssl.truststore.location" => {
                let store = Store::open(prefix, "truststore", value.trim(), get("ssl.truststore.type"))?;
                match store {
                    Store::Pem(path) => out.insert("ssl.ca.location".to_owned(), path),
                    Store::Pkcs12(path, der) => {
                        let pem = pkcs12_certificates(&der, get("ssl.truststore.password").unwrap_or(""))
                            .map_err(|e| store_error(prefix, "truststore", &path, &e))?;
                        out.insert("ssl.ca.pem".to_owned(), pem)
                    }
                };
            }
            "ssl.keystore.location" => match Store::open(prefix, "keystore", value.trim(), get("ssl.keystore.type"))? {
                Store::Pem(path) => {
                    out.insert("ssl.certificate.location".to_owned(), path.clone());
                    out.insert("ssl.key.location".to_owned(), path);
                }
                Store::Pkcs12(path, _) => {
                    out.insert("ssl.keystore.location".to_owned(), path);
                    if let Some(password) = settings.get("ssl.keystore.password") {
                        out.insert("ssl.keystore.password".to_owned(), password.clone());
                    }
                }
            },
            // Read together with their location above.
            "ssl.truststore.type" | "ssl.truststore.password" | "ssl.keystore.type" | "ssl.keystore.password" => {}
            "ssl.truststore.certificates" => {
                out.insert("ssl.ca.pem".to_owned(), value.clone());
            }
            "ssl.keystore.certificate.chain" => {
                out.insert("ssl.certificate.pem".to_owned(), value.clone());
            }
            "ssl.keystore.key" => {
                out.insert("ssl.key.pem".to_owned(), value.clone());
            }
            "ssl.endpoint.identification.algorithm" => {
                let algorithm = if value.trim().is_empty() { "none".to_owned() } else { value.trim().to_lowercase() };
                out.insert(key.clone(), algorithm);
            }
            k if JVM_ONLY.contains(&k) => ignored.push(format!("{prefix}{k}")),
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !ignored.is_empty() {
        tracing::info!(keys = ?ignored, "Ignoring Kafka client settings only the Java client has.");
    }
    Ok(out)
}

/// `username` and `password` of a Plain or SCRAM `sasl.jaas.config`.
fn jaas_credentials(key: &str, value: &str) -> Result<(String, String), ConnectError> {
    let bad = |msg: String| ConnectError::config(key, msg);
    let entries = jaas::parse_entries(value).map_err(|e| bad(e.to_string()))?;
    let [entry] = entries.as_slice() else {
        return Err(bad(format!("expected one login module entry, found {}", entries.len())));
    };
    match entry.module_name() {
        "PlainLoginModule" | "ScramLoginModule" => {}
        other => {
            return Err(bad(format!(
                "the login module {other} is not supported; use PlainLoginModule or ScramLoginModule, or librdkafka's own sasl.* settings (e.g. sasl.kerberos.* or sasl.oauthbearer.*)"
            )))
        }
    }
    let option = |name: &str| {
        entry
            .options
            .get(name)
            .cloned()
            .ok_or_else(|| bad(format!("the {} entry has no {name} option", entry.module_name())))
    };
    Ok((option("username")?, option("password")?))
}

/// A trust- or keystore file, by type.
enum Store {
    /// PEM: librdkafka reads the file itself.
    Pem(String),
    /// PKCS#12: its path and bytes.
    Pkcs12(String, Vec<u8>),
}

impl Store {
    /// Opens `path`; without a type, PEM and PKCS#12 are told apart by content (Kafka's default
    /// type, JKS, cannot be read here).
    fn open(prefix: &str, which: &str, path: &str, kind: Option<&str>) -> Result<Store, ConnectError> {
        let key = format!("{prefix}ssl.{which}.location");
        let kind = kind.map(str::to_ascii_uppercase);
        let jks = || {
            ConnectError::config(
                &key,
                format!(
                    "{path} is a JKS {which}, which only the JVM can read; convert it once with `keytool -importkeystore -srckeystore {path} -destkeystore {path}.p12 -deststoretype PKCS12` and set {prefix}ssl.{which}.location={path}.p12 and {prefix}ssl.{which}.type=PKCS12 (or use PEM files)"
                ),
            )
        };
        if kind.as_deref() == Some("JKS") {
            return Err(jks());
        }
        if kind.as_deref() == Some("PEM") {
            return Ok(Store::Pem(path.to_owned()));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| ConnectError::config(&key, format!("cannot read the {which} {path}: {e}")))?;
        match kind.as_deref() {
            Some("PKCS12") => Ok(Store::Pkcs12(path.to_owned(), bytes)),
            Some(other) => Err(ConnectError::config(
                format!("{prefix}ssl.{which}.type"),
                format!("unknown {which} type {other}; use PEM or PKCS12"),
            )),
            None if bytes.trim_ascii_start().starts_with(b"-----BEGIN") => Ok(Store::Pem(path.to_owned())),
            None if openssl::pkcs12::Pkcs12::from_der(&bytes).is_ok() => Ok(Store::Pkcs12(path.to_owned(), bytes)),
            None => Err(jks()),
        }
    }
}

fn store_error(prefix: &str, which: &str, path: &str, error: &openssl::error::ErrorStack) -> ConnectError {
    ConnectError::config(
        format!("{prefix}ssl.{which}.location"),
        format!("cannot read the PKCS12 {which} {path} (is ssl.{which}.password right?): {error}"),
    )
}

/// Every certificate of a PKCS#12 truststore, as PEM.
fn pkcs12_certificates(der: &[u8], password: &str) -> Result<String, openssl::error::ErrorStack> {
    let parsed = openssl::pkcs12::Pkcs12::from_der(der)?.parse2(password)?;
    let mut pem = Vec::new();
    for cert in parsed.cert.into_iter().chain(parsed.ca.into_iter().flatten()) {
        pem.extend(cert.to_pem()?);
    }
    Ok(String::from_utf8_lossy(&pem).into_owned())
}

/// Kafka Connect's `connector.client.config.override.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverridePolicy {
    /// No override allowed.
    None,
    /// Only `security.protocol`, `sasl.mechanism` and `sasl.jaas.config`.
    Principal,
    /// Any key (Kafka Connect's default since 3.0).
    #[default]
    All,
}

impl OverridePolicy {
    const PRINCIPAL_KEYS: [&'static str; 3] = ["sasl.jaas.config", "sasl.mechanism", "security.protocol"];

    fn from_worker(worker: &ConnectorConfig) -> Result<Self, ConnectError> {
        let Some(value) = worker.get(keys::OVERRIDE_POLICY).map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(OverridePolicy::All);
        };
        let short = value.rsplit('.').next().unwrap_or(value);
        let short = short.strip_suffix("ConnectorClientConfigOverridePolicy").unwrap_or(short);
        match short.to_ascii_lowercase().as_str() {
            "all" => Ok(OverridePolicy::All),
            "principal" => Ok(OverridePolicy::Principal),
            "none" => Ok(OverridePolicy::None),
            _ => Err(ConnectError::config(
                keys::OVERRIDE_POLICY,
                format!("unknown policy {value:?}; use All, Principal or None"),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            OverridePolicy::None => "None",
            OverridePolicy::Principal => "Principal",
            OverridePolicy::All => "All",
        }
    }

    /// One error per `*.override.*` key of `connector` the policy forbids, in Kafka Connect's
    /// words.
    pub fn check(self, connector: &ConnectorConfig) -> Vec<ConnectError> {
        let mut errors = Vec::new();
        for role in ClientRole::ALL {
            for key in connector.with_prefix(role.override_prefix()).as_map().keys() {
                let allowed = match self {
                    OverridePolicy::All => true,
                    OverridePolicy::Principal => Self::PRINCIPAL_KEYS.contains(&key.as_str()),
                    OverridePolicy::None => false,
                };
                if !allowed {
                    errors.push(ConnectError::config(
                        format!("{}{key}", role.override_prefix()),
                        format!(
                            "The '{}' policy does not allow '{key}' to be overridden in the connector configuration (the worker's {} decides).",
                            self.name(),
                            keys::OVERRIDE_POLICY
                        ),
                    ));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().copied().collect()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn sasl_ssl_with_scram_becomes_librdkafka_settings() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let out = translate(
            "",
            &map(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                (
                    "sasl.jaas.config",
                    r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="sluice" password="s3cret";"#,
                ),
                ("ssl.truststore.location", ca.to_str().unwrap()),
                ("ssl.enabled.protocols", "TLSv1.2,TLSv1.3"),
                ("ssl.endpoint.identification.algorithm", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            map(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "sluice"),
                ("sasl.password", "s3cret"),
                ("ssl.ca.location", ca.to_str().unwrap()),
                ("ssl.endpoint.identification.algorithm", "none"),
            ])
        );
    }

    #[test]
    fn keystores_by_type() {
        let out = translate(
            "",
            &map(&[("ssl.keystore.location", "/k.pem"), ("ssl.keystore.type", "PEM"), ("ssl.key.password", "kp")]),
        )
        .unwrap();
        assert_eq!(out["ssl.certificate.location"], "/k.pem");
        assert_eq!(out["ssl.key.location"], "/k.pem");
        assert_eq!(out["ssl.key.password"], "kp");

        let err =
            translate("consumer.", &map(&[("ssl.truststore.location", "/t.jks"), ("ssl.truststore.type", "JKS")]))
                .unwrap_err();
        assert_eq!(err.config_key(), Some("consumer.ssl.truststore.location"));
        assert!(err.to_string().contains("keytool -importkeystore"), "{err}");

        let err = translate("", &map(&[("ssl.truststore.location", "/surely/missing.pem")])).unwrap_err();
        assert!(err.to_string().contains("/surely/missing.pem"), "{err}");
    }

    #[test]
    fn pkcs12_truststores_become_inline_pem() {
        let (key, cert) = crate::test_tls::self_signed("test-ca");
        let p12 = openssl::pkcs12::Pkcs12::builder().name("ca").pkey(&key).cert(&cert).build2("pw").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.p12");
        std::fs::write(&path, p12.to_der().unwrap()).unwrap();

        let settings = map(&[("ssl.truststore.location", path.to_str().unwrap()), ("ssl.truststore.password", "pw")]);
        let out = translate("", &settings).unwrap();
        assert_eq!(out["ssl.ca.pem"], String::from_utf8(cert.to_pem().unwrap()).unwrap());

        let wrong = map(&[("ssl.truststore.location", path.to_str().unwrap()), ("ssl.truststore.password", "no")]);
        let err = translate("", &wrong).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn jaas_errors_name_the_key_and_keep_the_password_out() {
        let err = translate(
            "producer.override.",
            &map(&[("sasl.jaas.config", r#"com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;"#)]),
        )
        .unwrap_err();
        assert_eq!(err.config_key(), Some("producer.override.sasl.jaas.config"));
        assert!(err.to_string().contains("Krb5LoginModule"), "{err}");
        let err = translate("", &map(&[("sasl.jaas.config", r#"x.PlainLoginModule required password="s3cret";"#)]))
            .unwrap_err();
        assert!(err.to_string().contains("username"), "{err}");
        assert!(!err.to_string().contains("s3cret"));
    }

    #[test]
    fn layers_apply_in_order_and_top_level_security_reaches_every_client() {
        let worker = config(&[
            ("bootstrap.servers", "k:9093"),
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.jaas.config", r#"x.PlainLoginModule required username="worker" password="w";"#),
            ("consumer.fetch.max.bytes", "1000"),
            ("producer.linger.ms", "5"),
            ("key.converter", "not a client setting"),
        ]);
        let clients = KafkaClients::from_worker(&worker).unwrap();
        assert_eq!(clients.internal().get("sasl.username"), Some("worker"));
        assert_eq!(clients.internal().get("key.converter"), None);

        let connector = config(&[(
            "consumer.override.sasl.jaas.config",
            r#"x.ScramLoginModule required username="team-a" password="a";"#,
        )]);
        let consumer = clients
            .for_connector(
                ClientRole::Consumer,
                &[("fetch.max.bytes", "9".into()), ("group.id", "g".into())],
                &connector,
            )
            .unwrap();
        assert_eq!(consumer["bootstrap.servers"], "k:9093");
        assert_eq!(consumer["security.protocol"], "SASL_SSL");
        assert_eq!(consumer["sasl.username"], "team-a");
        assert_eq!(consumer["fetch.max.bytes"], "1000", "the worker's consumer.* beats Sluice's default");
        assert_eq!(consumer["group.id"], "g");
        assert!(!consumer.contains_key("linger.ms"));
        let producer = clients.for_connector(ClientRole::Producer, &[], &connector).unwrap();
        assert_eq!(producer["sasl.username"], "worker");
        assert_eq!(producer["linger.ms"], "5");
    }

    #[test]
    fn override_policy_limits_connector_overrides() {
        let connector = config(&[
            ("consumer.override.sasl.jaas.config", "x"),
            ("consumer.override.fetch.max.bytes", "1"),
            ("producer.override.security.protocol", "SSL"),
        ]);
        let with = |policy: &str| {
            KafkaClients::from_worker(&config(&[
                ("bootstrap.servers", "k:1"),
                ("connector.client.config.override.policy", policy),
            ]))
        };
        assert!(with("All").unwrap().override_policy().check(&connector).is_empty());
        let principal = with("org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy")
            .unwrap()
            .override_policy()
            .check(&connector);
        let keys: Vec<_> = principal.iter().map(|e| e.config_key().unwrap()).collect();
        assert_eq!(keys, ["consumer.override.fetch.max.bytes"]);
        assert!(principal[0].to_string().contains("'Principal' policy does not allow 'fetch.max.bytes'"));
        assert_eq!(with("None").unwrap().override_policy().check(&connector).len(), 3);
        let err = with("Some").unwrap_err();
        assert_eq!(err.config_key(), Some("connector.client.config.override.policy"));

        let clients = with("None").unwrap();
        let err = clients.for_connector(ClientRole::Producer, &[], &connector).unwrap_err();
        assert_eq!(err.config_key(), Some("consumer.override.fetch.max.bytes"));
    }
}
