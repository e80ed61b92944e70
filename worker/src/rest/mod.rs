//! The REST API, shaped exactly like Kafka Connect's so existing scripts, UIs and operators
//! keep working. Handlers are thin: they parse, call the [`Herder`], and shape the answer.
//!
//! - [`connectors`]: `/connectors` and everything below it.
//! - [`plugins`](self::plugins): `/connector-plugins`.
//! - [`error`]: the `{"error_code","message"}` body used for every error, including
//!   unknown routes and malformed JSON.

pub mod connectors;
pub mod error;
pub mod plugins;

use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Serialize;

use crate::herder::Herder;
use error::RestError;

/// Shared state of the handlers.
pub struct RestState {
    pub herder: Arc<Herder>,
    /// Kafka cluster id, looked up once at start-up.
    pub kafka_cluster_id: Option<String>,
}

#[derive(Serialize)]
struct ServerInfo<'a> {
    version: &'a str,
    commit: &'a str,
    kafka_cluster_id: Option<&'a str>,
}

async fn root(state: web::Data<RestState>) -> HttpResponse {
    HttpResponse::Ok().json(ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: option_env!("SLUICE_GIT_COMMIT").unwrap_or("unknown"),
        kafka_cluster_id: state.kafka_cluster_id.as_deref(),
    })
}

async fn not_found() -> Result<HttpResponse, RestError> {
    Err(RestError::not_found("HTTP 404 Not Found"))
}

/// Registers every route on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .error_handler(|err, _| RestError::bad_request(format!("Invalid JSON body: {err}")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| RestError::bad_request(err.to_string()).into()))
    .route("/", web::get().to(root))
    .configure(connectors::configure)
    .configure(plugins::configure)
    .default_service(web::to(not_found));
}

/// Binds the listener and returns the running server (await it to serve).
pub fn serve(bind: &str, state: RestState) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(configure))
        .workers(2)
        .disable_signals()
        .bind(bind)?
        .run();
    Ok(server)
}
