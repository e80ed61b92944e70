//! HTTP to a Kafka Connect REST API: one client per run, with the target's auth and TLS, and
//! errors that carry the server's `message` (Kafka Connect's error body) or say why the worker
//! could not be reached.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::config::Target;
use super::CtlError;

/// A Kafka Connect REST API at one base URL.
pub struct ConnectClient {
    http: reqwest::Client,
    /// The base URL, as given (a path prefix, e.g. behind a proxy, is kept).
    base: Url,
    /// Basic auth: user and password.
    auth: Option<(String, Option<String>)>,
}

/// A successful answer: its status and body (empty for 204).
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, CtlError> {
        serde_json::from_str(&self.body).map_err(|source| CtlError::Decode { what: what.to_owned(), source })
    }
}

impl ConnectClient {
    pub fn new(target: &Target) -> Result<Self, CtlError> {
        let base = Url::parse(&target.url)
            .map_err(|source| CtlError::BadUrl { url: target.url.clone(), source: source.into() })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(CtlError::Usage(format!("--url {}: use an http:// or https:// URL", target.url)));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(90))
            .danger_accept_invalid_certs(target.insecure);
        if let Some(path) = &target.ca_file {
            let pem =
                std::fs::read(path).map_err(|source| CtlError::Read { path: path.display().to_string(), source })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|source| CtlError::Tls { what: format!("--ca-file {}", path.display()), source })?;
            if certs.is_empty() {
                return Err(CtlError::Usage(format!("--ca-file {}: no PEM certificate in it", path.display())));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|source| CtlError::Tls { what: "the HTTP client".into(), source })?;
        let auth = target.user.clone().map(|user| (user, target.password.clone()));
        Ok(Self { http, base, auth })
    }

    pub fn base(&self) -> &str {
        self.base.as_str()
    }

    /// The URL of `segments` (each percent-encoded, so a connector name may hold `/` or
    /// spaces) under the base, with `query` pairs.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request; a non-2xx answer becomes [`CtlError::Server`] with the server's
    /// message.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, CtlError> {
        let url = self.url(segments, query);
        let mut request = self.http.request(method.clone(), url.clone()).header("Accept", "application/json");
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, password.as_ref());
        }
        if let Some(body) = body {
            let bytes =
                serde_json::to_vec(body).map_err(|source| CtlError::Decode { what: "the request".into(), source })?;
            request = request.header("Content-Type", "application/json").body(bytes);
        }
        let response = request.send().await.map_err(|source| self.unreachable(source))?;
        let status = response.status();
        let body = response.text().await.map_err(|source| self.unreachable(source))?;
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        Err(CtlError::Server {
            request: format!("{method} {}", url.path()),
            status: status.as_u16(),
            message: server_message(&body),
            hint: hint(status),
        })
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Answer, CtlError> {
        self.send(Method::GET, segments, query, None).await
    }

    /// `GET` whose 404 is an answer ("there is none"), not an error.
    pub async fn get_if_found(&self, segments: &[&str]) -> Result<Option<Answer>, CtlError> {
        match self.get(segments, &[]).await {
            Ok(answer) => Ok(Some(answer)),
            Err(CtlError::Server { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn unreachable(&self, source: reqwest::Error) -> CtlError {
        let reason = root_cause(&source);
        let lower = reason.to_ascii_lowercase();
        let hint = if ["ssl", "tls", "certificate"].iter().any(|w| lower.contains(w)) {
            "check the URL's scheme (http or https), and pass --ca-file with the server's CA (or --insecure)"
        } else {
            "is a worker running? set --url or SLUICE_URL"
        };
        CtlError::Unreachable { url: self.base.to_string(), reason, hint, source }
    }
}

/// The innermost cause, in words a user recognises ("connection refused", not hyper's chain).
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => io.to_string(),
            };
        }
        cause = next;
    }
    if error.is_timeout() {
        return "no answer in time".to_owned();
    }
    cause.to_string()
}

/// Kafka Connect's error body is `{"error_code", "message"}`; anything else is shown as it is
/// (shortened: a proxy's HTML page is not worth a screen).
fn server_message(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned));
    match from_json {
        Some(message) => message,
        None if body.trim().is_empty() => "(no message)".to_owned(),
        None => body.trim().chars().take(300).collect(),
    }
}

/// What to do next, for the statuses that have an obvious next step.
fn hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "; pass --user and --password (or set SLUICE_USER and SLUICE_PASSWORD)",
        403 => "; these credentials may not do this",
        404 => "; `sluice ctl get connectors` lists the connectors",
        409 => "; another change is under way, try again",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> ConnectClient {
        let target = Target { url: url.into(), user: None, password: None, ca_file: None, insecure: false };
        ConnectClient::new(&target).unwrap()
    }

    #[test]
    fn names_are_one_encoded_segment_and_a_base_path_is_kept() {
        let c = client("http://localhost:8083/connect/");
        let url = c.url(&["connectors", "a b/c", "restart"], &[("includeTasks", "true")]);
        assert_eq!(url.as_str(), "http://localhost:8083/connect/connectors/a%20b%2Fc/restart?includeTasks=true");
        let c = client("http://localhost:8083");
        assert_eq!(c.url(&["connectors"], &[]).as_str(), "http://localhost:8083/connectors");
    }

    #[test]
    fn the_server_message_comes_from_the_error_body() {
        assert_eq!(server_message(r#"{"error_code":404,"message":"Connector x not found"}"#), "Connector x not found");
        assert_eq!(server_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(server_message(""), "(no message)");
    }

    #[test]
    fn a_non_http_url_is_refused() {
        let target = Target { url: "ftp://x".into(), user: None, password: None, ca_file: None, insecure: false };
        assert!(matches!(ConnectClient::new(&target), Err(CtlError::Usage(_))));
    }
}
