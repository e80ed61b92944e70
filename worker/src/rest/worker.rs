//! About the worker itself: `/` (version), `/health`, `/metrics` (Prometheus) and
//! `/admin/loggers` (log levels).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::error::RestError;
use super::{RestResult, RestState};
use crate::herder::WorkerHealth;

#[derive(Serialize)]
struct ServerInfo<'a> {
    version: &'a str,
    commit: &'a str,
    kafka_cluster_id: Option<&'a str>,
}

/// `GET /sluice/cluster`: members and leadership as this worker sees them.
pub(super) async fn cluster(state: web::Data<RestState>) -> HttpResponse {
    HttpResponse::Ok().json(state.herder.cluster_info())
}

/// `GET /metrics`: this worker's metrics, in the text format Prometheus scrapes.
pub(super) async fn metrics(state: web::Data<RestState>) -> RestResult {
    let text = state.herder.worker().metrics.render().map_err(|error| {
        RestError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("Rendering the metrics failed: {error}"))
    })?;
    Ok(HttpResponse::Ok().content_type(crate::metrics::CONTENT_TYPE).body(text))
}

pub(super) async fn root(state: web::Data<RestState>) -> HttpResponse {
    HttpResponse::Ok().json(ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("SLUICE_GIT_COMMIT"),
        kafka_cluster_id: state.kafka_cluster_id.as_deref(),
    })
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    message: String,
}

/// Kafka Connect's `WorkerStatus`: status word, message, and the HTTP status that goes with it.
fn health_body(health: WorkerHealth) -> (StatusCode, HealthBody) {
    let with_detail = |message: &str, detail: Option<String>| match detail {
        Some(d) => format!("{message} {d}"),
        None => message.to_owned(),
    };
    match health {
        WorkerHealth::Healthy => (
            StatusCode::OK,
            HealthBody {
                status: "healthy",
                message: "Worker has completed startup and is ready to handle requests.".to_owned(),
            },
        ),
        WorkerHealth::Starting(detail) => (
            StatusCode::SERVICE_UNAVAILABLE,
            HealthBody { status: "starting", message: with_detail("Worker is still starting up.", detail) },
        ),
        WorkerHealth::Unhealthy(detail) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            HealthBody {
                status: "unhealthy",
                message: with_detail(
                    "Worker was unable to handle this request and may be unable to handle other requests.",
                    detail,
                ),
            },
        ),
    }
}

pub(super) async fn health(state: web::Data<RestState>) -> HttpResponse {
    let (status, body) = health_body(state.herder.health_check().await);
    HttpResponse::build(status).json(body)
}

pub(super) async fn list_loggers(state: web::Data<RestState>) -> HttpResponse {
    HttpResponse::Ok().json(state.herder.all_logger_levels())
}

pub(super) async fn get_logger(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    Ok(HttpResponse::Ok().json(state.herder.logger_level(&path)?))
}

#[derive(Deserialize)]
pub(super) struct ScopeQuery {
    scope: Option<String>,
}

pub(super) async fn set_logger(
    state: web::Data<RestState>,
    path: web::Path<String>,
    query: web::Query<ScopeQuery>,
    body: web::Json<Map<String, Json>>,
) -> RestResult {
    let level = match body.get("level") {
        Some(Json::String(level)) => level.clone(),
        _ => return Err(RestError::bad_request("Desired 'level' parameter was not specified in request.")),
    };
    match query.scope.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("cluster") => {
            state.herder.set_cluster_logger_level(&path, &level).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        scope => {
            if let Some(other) = scope.filter(|s| *s != "worker") {
                tracing::warn!(scope = %other, "Unknown scope in a request to change a log level; using worker.");
            }
            Ok(HttpResponse::Ok().json(state.herder.set_worker_logger_level(&path, &level)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_answers_use_kafka_connect_words_and_codes() {
        let (code, body) = health_body(WorkerHealth::Healthy);
        assert_eq!((code.as_u16(), body.status), (200, "healthy"));
        assert_eq!(body.message, "Worker has completed startup and is ready to handle requests.");
        let (code, body) = health_body(WorkerHealth::Starting(Some("Reading the config topic.".into())));
        assert_eq!((code.as_u16(), body.status), (503, "starting"));
        assert_eq!(body.message, "Worker is still starting up. Reading the config topic.");
        let (code, body) = health_body(WorkerHealth::Unhealthy(None));
        assert_eq!((code.as_u16(), body.status), (500, "unhealthy"));
    }
}
