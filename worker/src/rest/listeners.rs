//! Where the REST API listens and whom it lets in, from Kafka Connect's worker keys:
//!
//! - `listeners`: comma-separated `scheme://host:port`, as Kafka writes them: `http` or
//!   `https` in any case, an empty host for every interface (`HTTP://:8083`), IPv6 in brackets.
//! - `listeners.https.ssl.*` (else the top-level `ssl.*`, Kafka Connect's fallback): the
//!   server's keystore as PEM (one file with the key and its chain, or inline
//!   `ssl.keystore.key` + `ssl.keystore.certificate.chain`) or PKCS#12, an optional
//!   `ssl.key.password`, and `ssl.client.auth=required|requested|none` with `ssl.truststore.*`
//!   for client certificates. JKS is refused with the keytool command that converts it.
//! - `rest.advertised.listener`: `http` or `https`, which listener other workers and
//!   `GET /connectors/{c}/status` name (the first listener by default).
//! - HTTP basic auth as Kafka Connect's `BasicAuthSecurityRestExtension` does it: named in
//!   `rest.extension.classes`, with the JAAS login file (`PropertyFileLoginModule
//!   file="…"`) taken from `sluice.rest.basic.auth.login.config` or, as on the JVM, from
//!   `-Djava.security.auth.login.config=…` in `KAFKA_OPTS`. The credentials file holds
//!   `user=password` lines. Every route but `GET /health` requires them (probes cannot
//!   always send credentials, and health tells nothing secret); a request without valid ones
//!   gets 401 with Kafka Connect's error body.
//!
//! Workers never call each other over HTTP (they coordinate through Kafka), so there are no
//! internal requests to authenticate.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::ResponseError;
use base64::Engine as _;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use sluice_api::{ConnectError, ConnectorConfig};

use super::error::RestError;
use crate::jaas;
use crate::worker_config::read_properties;

/// Worker keys read here.
pub mod keys {
    pub const LISTENERS: &str = "listeners";
    pub const ADVERTISED_LISTENER: &str = "rest.advertised.listener";
    pub const EXTENSION_CLASSES: &str = "rest.extension.classes";
    /// Sluice's own: the JAAS login file of basic auth (the JVM takes it from a system property).
    pub const BASIC_AUTH_LOGIN_CONFIG: &str = "sluice.rest.basic.auth.login.config";
    /// Prefix of the https listener's TLS settings.
    pub const HTTPS_PREFIX: &str = "listeners.https.";
    pub const BASIC_AUTH_EXTENSION: &str =
        "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
}

/// What Kafka Connect's basic-auth filter answers to a request without valid credentials.
pub const UNAUTHORIZED_MESSAGE: &str = "User cannot access the resource.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One entry of `listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestListener {
    pub scheme: Scheme,
    /// Empty for every interface.
    pub host: String,
    pub port: u16,
}

impl RestListener {
    /// The address to bind: an empty host binds every interface.
    pub fn bind_address(&self) -> String {
        match self.host.as_str() {
            "" => format!("0.0.0.0:{}", self.port),
            h if h.contains(':') => format!("[{h}]:{}", self.port),
            h => format!("{h}:{}", self.port),
        }
    }
}

impl std::fmt::Display for RestListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme.name(), self.bind_address())
    }
}

/// Parses `listeners`; errors name the key and show a form that works.
pub fn parse_listeners(value: &str) -> Result<Vec<RestListener>, ConnectError> {
    let mut listeners = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |msg: &str| {
            ConnectError::config(
                keys::LISTENERS,
                format!("{msg} in {entry:?}; use e.g. http://0.0.0.0:8083, https://:8443 or HTTP://:8083"),
            )
        };
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| bad("missing scheme"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("missing port"))?;
        let port = port.parse::<u16>().map_err(|_| bad("invalid port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if listeners.iter().any(|l: &RestListener| l.port == port && (l.host == host || l.host.is_empty())) {
            return Err(bad("this port is already listed"));
        }
        listeners.push(RestListener { scheme, host, port });
    }
    if listeners.is_empty() {
        return Err(ConnectError::config(keys::LISTENERS, "no listener given; use e.g. http://0.0.0.0:8083"));
    }
    Ok(listeners)
}

/// The REST API's listeners with their TLS and auth settings, checked at start-up.
#[derive(Clone)]
pub struct RestSecurity {
    pub listeners: Vec<RestListener>,
    /// The https listeners' settings (`ssl.*` keys without the `listeners.https.` prefix).
    tls: Option<TlsSettings>,
    pub basic_auth: Option<Arc<BasicAuth>>,
    /// The listener other workers and status answers name.
    pub advertised: RestListener,
}

impl std::fmt::Debug for RestSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSecurity")
            .field("listeners", &self.listeners)
            .field("tls", &self.tls.is_some())
            .field("basic_auth", &self.basic_auth.is_some())
            .finish()
    }
}

impl RestSecurity {
    /// Reads and checks the worker's REST keys. `base` resolves relative paths.
    pub fn from_worker(worker: &ConnectorConfig, base: &Path) -> Result<Self, ConnectError> {
        let listeners = parse_listeners(worker.get(keys::LISTENERS).unwrap_or("http://:8083"))?;
        let tls = if listeners.iter().any(|l| l.scheme == Scheme::Https) {
            let settings = TlsSettings::from_worker(worker, base);
            settings.acceptor()?; // Fails at start, naming the key, rather than at the first request.
            Some(settings)
        } else {
            None
        };
        let advertised = match worker.get(keys::ADVERTISED_LISTENER).map(|s| s.trim().to_ascii_lowercase()) {
            None => listeners[0].clone(),
            Some(s) if s.is_empty() => listeners[0].clone(),
            Some(s) => listeners.iter().find(|l| l.scheme.name() == s).cloned().ok_or_else(|| {
                ConnectError::config(
                    keys::ADVERTISED_LISTENER,
                    format!("no {s} listener in listeners; use one of the listeners' schemes (http or https)"),
                )
            })?,
        };
        let basic_auth = BasicAuth::from_worker(worker, base)?.map(Arc::new);
        Ok(RestSecurity { listeners, tls, basic_auth, advertised })
    }

    /// A fresh TLS acceptor for one https listener.
    pub fn acceptor(&self) -> Result<SslAcceptorBuilder, ConnectError> {
        self.tls
            .as_ref()
            .ok_or_else(|| {
                ConnectError::config(keys::LISTENERS, "an https listener needs listeners.https.ssl.* settings")
            })?
            .acceptor()
    }
}

/// The https listener's `ssl.*` settings.
#[derive(Debug, Clone)]
struct TlsSettings {
    /// Keys as written after the prefix (`ssl.keystore.location`, …).
    settings: BTreeMap<String, String>,
    /// How keys are named in errors: `listeners.https.` or empty for the top-level fallback.
    prefix: &'static str,
}

impl TlsSettings {
    fn from_worker(worker: &ConnectorConfig, base: &Path) -> Self {
        let prefixed = worker.with_prefix(keys::HTTPS_PREFIX);
        let top: BTreeMap<String, String> = worker
            .as_map()
            .iter()
            .filter(|(k, _)| k.starts_with("ssl."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (mut settings, prefix) = if top.is_empty() || prefixed.as_map().keys().any(|k| k.starts_with("ssl.")) {
            (prefixed.into_map(), keys::HTTPS_PREFIX)
        } else {
            (top, "")
        };
        for key in ["ssl.keystore.location", "ssl.truststore.location"] {
            if let Some(path) = settings.get_mut(key) {
                let p = Path::new(path.trim());
                if p.is_relative() {
                    *path = base.join(p).to_string_lossy().into_owned();
                }
            }
        }
        TlsSettings { settings, prefix }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn error(&self, key: &str, message: impl Into<String>) -> ConnectError {
        ConnectError::config(format!("{}{key}", self.prefix), message)
    }

    /// The server key and certificate chain.
    fn identity(&self) -> Result<(PKey<Private>, Vec<X509>), ConnectError> {
        let key_password = self.get("ssl.key.password");
        let parse_pem = |key_pem: &[u8], chain_pem: &[u8], key_name: &str| {
            let key = match key_password {
                Some(p) => PKey::private_key_from_pem_passphrase(key_pem, p.as_bytes()),
                None => PKey::private_key_from_pem(key_pem),
            }
            .map_err(|e| self.error(key_name, format!("no readable private key (is ssl.key.password right?): {e}")))?;
            let chain = X509::stack_from_pem(chain_pem)
                .map_err(|e| self.error(key_name, format!("no readable certificate: {e}")))?;
            if chain.is_empty() {
                return Err(
                    self.error(key_name, "no certificate found; the PEM must hold the server's certificate chain")
                );
            }
            Ok((key, chain))
        };
        if let (Some(key), Some(chain)) = (self.get("ssl.keystore.key"), self.get("ssl.keystore.certificate.chain")) {
            return parse_pem(key.as_bytes(), chain.as_bytes(), "ssl.keystore.key");
        }
        let location = self
            .get("ssl.keystore.location")
            .ok_or_else(|| self.error("ssl.keystore.location", "an https listener needs a keystore: set ssl.keystore.location (PEM or PKCS12) or ssl.keystore.key with ssl.keystore.certificate.chain"))?;
        let kind = self.get("ssl.keystore.type").map(str::to_ascii_uppercase);
        if kind.as_deref() == Some("JKS") {
            return Err(self.jks("keystore", location));
        }
        let bytes = std::fs::read(location)
            .map_err(|e| self.error("ssl.keystore.location", format!("cannot read {location}: {e}")))?;
        let is_pem = bytes.trim_ascii_start().starts_with(b"-----BEGIN");
        match kind.as_deref() {
            Some("PEM") | None if is_pem => parse_pem(&bytes, &bytes, "ssl.keystore.location"),
            Some("PKCS12") | None => {
                let password = self.get("ssl.keystore.password").unwrap_or("");
                let parsed = Pkcs12::from_der(&bytes).and_then(|p| p.parse2(password)).map_err(|_| match kind {
                    None => self.jks("keystore", location),
                    _ => self.error(
                        "ssl.keystore.location",
                        format!("cannot read the PKCS12 keystore {location} (is ssl.keystore.password right?)"),
                    ),
                })?;
                let key = parsed
                    .pkey
                    .ok_or_else(|| self.error("ssl.keystore.location", "the keystore holds no private key"))?;
                let cert = parsed
                    .cert
                    .ok_or_else(|| self.error("ssl.keystore.location", "the keystore holds no certificate"))?;
                let chain = std::iter::once(cert).chain(parsed.ca.into_iter().flatten()).collect();
                Ok((key, chain))
            }
            Some(other) => Err(self.error("ssl.keystore.type", format!("unknown type {other}; use PEM or PKCS12"))),
        }
    }

    fn jks(&self, which: &str, path: &str) -> ConnectError {
        self.error(
            &format!("ssl.{which}.location"),
            format!("{path} is not PEM or PKCS12 (a JKS store?); convert it with `keytool -importkeystore -srckeystore {path} -destkeystore {path}.p12 -deststoretype PKCS12` and set ssl.{which}.type=PKCS12"),
        )
    }

    fn acceptor(&self) -> Result<SslAcceptorBuilder, ConnectError> {
        let (key, chain) = self.identity()?;
        let tls_error = |e: openssl::error::ErrorStack| {
            self.error("ssl.keystore.location", format!("unusable key or certificate: {e}"))
        };
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(tls_error)?;
        builder.set_private_key(&key).map_err(tls_error)?;
        let mut certs = chain.into_iter();
        builder.set_certificate(&certs.next().expect("checked non-empty")).map_err(tls_error)?;
        for extra in certs {
            builder.add_extra_chain_cert(extra).map_err(tls_error)?;
        }
        builder.check_private_key().map_err(|e| {
            self.error("ssl.keystore.location", format!("the private key does not match the certificate: {e}"))
        })?;
        let client_auth = self.get("ssl.client.auth").map(str::to_ascii_lowercase);
        let mode = match client_auth.as_deref() {
            None | Some("none") => None,
            Some("requested") => Some(SslVerifyMode::PEER),
            Some("required") => Some(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT),
            Some(other) => {
                return Err(
                    self.error("ssl.client.auth", format!("unknown value {other}; use none, requested or required"))
                )
            }
        };
        if let Some(mode) = mode {
            let trust = self.get("ssl.truststore.location").ok_or_else(|| {
                self.error(
                    "ssl.truststore.location",
                    "ssl.client.auth needs a truststore with the CA of client certificates (PEM)",
                )
            })?;
            if self.get("ssl.truststore.type").is_some_and(|t| !t.eq_ignore_ascii_case("PEM")) {
                return Err(self.error("ssl.truststore.type", "the REST listener reads PEM truststores only"));
            }
            builder
                .set_ca_file(trust)
                .map_err(|e| self.error("ssl.truststore.location", format!("cannot read {trust}: {e}")))?;
            builder.set_verify(mode);
        }
        Ok(builder)
    }
}

/// Users and passwords of HTTP basic auth.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
}

impl BasicAuth {
    fn from_worker(worker: &ConnectorConfig, base: &Path) -> Result<Option<Self>, ConnectError> {
        let classes = worker.list(keys::EXTENSION_CLASSES);
        let mut enabled = false;
        for class in &classes {
            let short = class.rsplit('.').next().unwrap_or(class);
            if short == "BasicAuthSecurityRestExtension" {
                enabled = true;
            } else {
                return Err(ConnectError::config(
                    keys::EXTENSION_CLASSES,
                    format!(
                        "{class} is not available in Sluice; the only REST extension is {}",
                        keys::BASIC_AUTH_EXTENSION
                    ),
                ));
            }
        }
        if !enabled {
            return Ok(None);
        }
        let login_file = match worker.get(keys::BASIC_AUTH_LOGIN_CONFIG).map(str::trim).filter(|s| !s.is_empty()) {
            Some(path) => base.join(path),
            None => jvm_login_config().map(Into::into).ok_or_else(|| {
                ConnectError::config(
                    keys::EXTENSION_CLASSES,
                    format!(
                        "basic auth needs its JAAS login file: set {} (or -Djava.security.auth.login.config=… in KAFKA_OPTS)",
                        keys::BASIC_AUTH_LOGIN_CONFIG
                    ),
                )
            })?,
        };
        let key = keys::BASIC_AUTH_LOGIN_CONFIG;
        let text = std::fs::read_to_string(&login_file)
            .map_err(|e| ConnectError::config(key, format!("cannot read {}: {e}", login_file.display())))?;
        let entries = jaas::parse_section(&text, "KafkaConnect")
            .map_err(|e| ConnectError::config(key, format!("{}: {e}", login_file.display())))?;
        let file = entries
            .iter()
            .find(|e| e.module_name() == "PropertyFileLoginModule")
            .and_then(|e| e.options.get("file"))
            .ok_or_else(|| {
                ConnectError::config(
                    key,
                    format!(
                        "{}: the KafkaConnect section needs a PropertyFileLoginModule entry with file=\"…\"",
                        login_file.display()
                    ),
                )
            })?;
        let path = login_file.parent().unwrap_or(Path::new(".")).join(file);
        let credentials = std::fs::File::open(&path).map_err(|e| {
            ConnectError::config(key, format!("cannot read the credentials file {}: {e}", path.display()))
        })?;
        let users: BTreeMap<String, String> = read_properties(std::io::BufReader::new(credentials))
            .map_err(|e| {
                ConnectError::config(key, format!("cannot parse the credentials file {}: {e}", path.display()))
            })?
            .into_iter()
            .collect();
        if users.is_empty() {
            return Err(ConnectError::config(
                key,
                format!("the credentials file {} has no user=password line", path.display()),
            ));
        }
        Ok(Some(BasicAuth { users }))
    }

    /// Whether an `Authorization` header value names a known user with its password.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(encoded) = authorization.and_then(|h| h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic ")))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let Ok(decoded) = String::from_utf8(decoded) else { return false };
        let Some((user, password)) = decoded.split_once(':') else { return false };
        // Constant time for passwords of the right length (openssl's `eq` needs equal lengths).
        self.users.get(user).is_some_and(|expected| {
            expected.len() == password.len() && openssl::memcmp::eq(expected.as_bytes(), password.as_bytes())
        })
    }
}

/// `-Djava.security.auth.login.config=…` from `KAFKA_OPTS`, as the JVM would read it.
fn jvm_login_config() -> Option<String> {
    let opts = std::env::var("KAFKA_OPTS").ok()?;
    opts.split_whitespace()
        .find_map(|o| o.strip_prefix("-Djava.security.auth.login.config="))
        .map(|p| p.trim_matches('"').to_owned())
}

/// The basic-auth check, as actix middleware (a pass-through without `auth`).
pub async fn require_basic_auth(
    auth: Option<Arc<BasicAuth>>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let open = req.method() == Method::GET && matches!(req.path(), "/health" | "/health/");
    let header = req.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok());
    if open || auth.is_none_or(|auth| auth.allows(header)) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut response = RestError::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED_MESSAGE).error_response();
    // Lets a browser (the web console) ask for the user and password.
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"Sluice\""));
    Ok(req.into_response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().copied().collect()
    }

    #[test]
    fn listeners_take_every_form_kafka_does() {
        let listeners = parse_listeners("HTTP://:8083, https://127.0.0.1:8443,http://[::1]:9000/").unwrap();
        assert_eq!(
            listeners,
            [
                RestListener { scheme: Scheme::Http, host: String::new(), port: 8083 },
                RestListener { scheme: Scheme::Https, host: "127.0.0.1".into(), port: 8443 },
                RestListener { scheme: Scheme::Http, host: "::1".into(), port: 9000 },
            ]
        );
        assert_eq!(listeners[0].bind_address(), "0.0.0.0:8083");
        assert_eq!(listeners[2].bind_address(), "[::1]:9000");
        for bad in ["tcp://:8083", ":8083", "http://host", "http://:port", "", "http://:8083,HTTP://:8083"] {
            let err = parse_listeners(bad).unwrap_err();
            assert_eq!(err.config_key(), Some("listeners"), "{bad}: {err}");
        }
    }

    fn write_identity(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let (key, cert) = crate::test_tls::self_signed("localhost");
        let pem = dir.join("server.pem");
        let mut bytes = key.private_key_to_pem_pkcs8().unwrap();
        bytes.extend(cert.to_pem().unwrap());
        std::fs::write(&pem, bytes).unwrap();
        let p12 = dir.join("server.p12");
        let store = Pkcs12::builder().name("server").pkey(&key).cert(&cert).build2("store-pw").unwrap();
        std::fs::write(&p12, store.to_der().unwrap()).unwrap();
        (pem, p12)
    }

    #[test]
    fn https_listeners_read_pem_and_pkcs12_keystores() {
        let dir = tempfile::tempdir().unwrap();
        let (pem, _) = write_identity(dir.path());
        let pem_config = config(&[
            ("listeners", "https://127.0.0.1:8443,http://127.0.0.1:8083"),
            ("listeners.https.ssl.keystore.type", "PEM"),
            ("listeners.https.ssl.keystore.location", pem.to_str().unwrap()),
            ("rest.advertised.listener", "HTTPS"),
        ]);
        let security = RestSecurity::from_worker(&pem_config, dir.path()).unwrap();
        assert_eq!(security.advertised.port, 8443);
        assert!(security.acceptor().is_ok());

        let p12_config = config(&[
            ("listeners", "https://:8443"),
            ("listeners.https.ssl.keystore.location", "server.p12"),
            ("listeners.https.ssl.keystore.password", "store-pw"),
        ]);
        assert!(RestSecurity::from_worker(&p12_config, dir.path()).is_ok(), "relative to the worker config's dir");

        let wrong_password = config(&[
            ("listeners", "https://:8443"),
            ("listeners.https.ssl.keystore.location", "server.p12"),
            ("listeners.https.ssl.keystore.type", "PKCS12"),
            ("listeners.https.ssl.keystore.password", "nope"),
        ]);
        let err = RestSecurity::from_worker(&wrong_password, dir.path()).unwrap_err();
        assert_eq!(err.config_key(), Some("listeners.https.ssl.keystore.location"));
        assert!(err.to_string().contains("password"), "{err}");

        let jks = config(&[
            ("listeners", "https://:8443"),
            ("listeners.https.ssl.keystore.location", "server.jks"),
            ("listeners.https.ssl.keystore.type", "JKS"),
        ]);
        let err = RestSecurity::from_worker(&jks, dir.path()).unwrap_err();
        assert!(err.to_string().contains("keytool -importkeystore"), "{err}");

        let no_https = config(&[("listeners", "http://:8083"), ("rest.advertised.listener", "https")]);
        let err = RestSecurity::from_worker(&no_https, dir.path()).unwrap_err();
        assert_eq!(err.config_key(), Some("rest.advertised.listener"));
    }

    #[test]
    fn basic_auth_reads_kafka_connects_login_and_credentials_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("credentials.properties"), "admin=s3cret\nreader: r\n").unwrap();
        std::fs::write(
            dir.path().join("connect_jaas.conf"),
            "KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"credentials.properties\";\n};\n",
        )
        .unwrap();
        let worker = config(&[
            ("rest.extension.classes", keys::BASIC_AUTH_EXTENSION),
            ("sluice.rest.basic.auth.login.config", "connect_jaas.conf"),
        ]);
        let auth = RestSecurity::from_worker(&worker, dir.path()).unwrap().basic_auth.unwrap();
        let header =
            |user_password: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_password));
        assert!(auth.allows(Some(&header("admin:s3cret"))));
        assert!(auth.allows(Some(&header("reader:r"))));
        assert!(!auth.allows(Some(&header("admin:s3cre"))));
        assert!(!auth.allows(Some(&header("admin:s3cret!"))));
        assert!(!auth.allows(Some(&header("nobody:s3cret"))));
        assert!(!auth.allows(Some("Bearer abc")));
        assert!(!auth.allows(None));

        let missing = config(&[("rest.extension.classes", keys::BASIC_AUTH_EXTENSION)]);
        if std::env::var_os("KAFKA_OPTS").is_none() {
            let err = RestSecurity::from_worker(&missing, dir.path()).err().unwrap();
            assert!(err.to_string().contains("sluice.rest.basic.auth.login.config"), "{err}");
        }
        let unknown = config(&[("rest.extension.classes", "com.example.MyExtension")]);
        let err = RestSecurity::from_worker(&unknown, dir.path()).err().unwrap();
        assert_eq!(err.config_key(), Some("rest.extension.classes"));
        assert!(RestSecurity::from_worker(&config(&[]), dir.path()).unwrap().basic_auth.is_none());
    }
}
