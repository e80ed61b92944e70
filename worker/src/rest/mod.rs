//! The REST API, shaped exactly like Kafka Connect's so existing scripts, UIs and operators
//! keep working. Handlers are thin: they parse, call the [`ConnectHerder`], and shape the
//! answer. `worker/openapi.yaml` documents every route.
//!
//! - [`routes`]: the route table, the one list of (method, path, handler).
//! - [`connectors`]: creating, reading, reconfiguring and deleting connectors.
//! - [`lifecycle`]: status, tasks, pause/resume/stop and restarts.
//! - [`offsets`]: sink offsets and active topics.
//! - [`plugins`](self::plugins): `/connector-plugins`, config definitions and validation.
//! - [`worker`](self::worker): `/`, `/health`, `/metrics`, `/sluice/cluster` and `/admin/loggers`.
//! - [`dead_letters`]: `/sluice/connectors/{c}/dead-letters`, the newest records of a DLQ.
//! - [`console`]: the web console at `/ui`, files embedded in the binary.
//! - [`listeners`]: `listeners` (http and https), TLS and basic auth.
//! - [`error`]: the `{"error_code","message"}` body used for every error, including unknown
//!   routes, wrong methods and malformed JSON.

pub mod connectors;
pub mod console;
pub mod dead_letters;
pub mod error;
pub mod lifecycle;
pub mod listeners;
pub mod offsets;
pub mod plugins;
pub mod routes;
pub mod worker;

use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};
use sluice_api::ConnectError;

use crate::herder::ConnectHerder;
use error::RestError;
use listeners::{RestListener, RestSecurity, Scheme};
use routes::ROUTES;

/// What every handler returns.
pub type RestResult = Result<HttpResponse, RestError>;

/// Shared state of the handlers.
pub struct RestState {
    /// The standalone or the distributed herder.
    pub herder: Arc<dyn ConnectHerder>,
    /// Kafka cluster id, looked up once at start-up.
    pub kafka_cluster_id: Option<String>,
}

async fn not_found() -> RestResult {
    Err(RestError::not_found("HTTP 404 Not Found"))
}

async fn method_not_allowed() -> RestResult {
    Err(RestError::method_not_allowed())
}

/// Registers every route of [`ROUTES`] on an actix `App`; each path also answers with a
/// trailing slash, and a method it does not serve gets a JSON 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .error_handler(|err, _| RestError::bad_request(format!("Invalid JSON body: {err}")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| RestError::bad_request(err.to_string()).into()))
    // A path parameter of the wrong type (a task number that is not a number) is, as in
    // Jersey, no such resource.
    .app_data(web::PathConfig::default().error_handler(|_, _| RestError::not_found("HTTP 404 Not Found").into()));
    let mut paths: Vec<&'static str> = Vec::new();
    for r in ROUTES {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    for path in paths {
        let patterns = if path == "/" { vec![path.to_owned()] } else { vec![path.to_owned(), format!("{path}/")] };
        let resource = ROUTES
            .iter()
            .filter(|r| r.path == path)
            .fold(web::resource(patterns), |res, r| res.route((r.handler)().method(r.verb.method())))
            .default_service(web::to(method_not_allowed));
        cfg.service(resource);
    }
    cfg.default_service(web::to(not_found));
}

/// Why the REST server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {listener}: {source}")]
    Bind { listener: String, source: std::io::Error },
    #[error("REST listener: {0}")]
    Tls(#[from] ConnectError),
}

/// The REST listeners' sockets. The worker binds them first, so a port in use stops it before
/// it joins a group or starts a task (and leaves nothing uncommitted behind).
pub struct BoundListeners(Vec<(RestListener, std::net::TcpListener)>);

/// Binds every listener of `security`.
pub fn bind(security: &RestSecurity) -> Result<BoundListeners, ServeError> {
    let bind_one = |listener: &RestListener| {
        std::net::TcpListener::bind(listener.bind_address())
            .map(|socket| (listener.clone(), socket))
            .map_err(|source| ServeError::Bind { listener: listener.to_string(), source })
    };
    security.listeners.iter().map(bind_one).collect::<Result<_, _>>().map(BoundListeners)
}

/// Serves on the bound listeners; returns the running server (await it to serve).
pub fn serve(
    security: &RestSecurity,
    bound: BoundListeners,
    state: RestState,
) -> Result<actix_web::dev::Server, ServeError> {
    let state = web::Data::new(state);
    let auth = security.basic_auth.clone();
    let mut server = HttpServer::new(move || {
        let auth = auth.clone();
        App::new()
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                listeners::require_basic_auth(auth.clone(), req, next)
            }))
            .app_data(state.clone())
            .configure(configure)
    })
    .workers(2)
    .disable_signals();
    for (listener, socket) in bound.0 {
        server = match listener.scheme {
            Scheme::Http => server.listen(socket),
            Scheme::Https => server.listen_openssl(socket, security.acceptor()?),
        }
        .map_err(|source| ServeError::Bind { listener: listener.to_string(), source })?;
    }
    Ok(server.run())
}
