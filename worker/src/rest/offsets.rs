//! A sink connector's offsets (`/connectors/{c}/offsets`) and active topics
//! (`/connectors/{c}/topics`).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::{json, Value as Json};

use super::{RestResult, RestState};
use crate::herder::offsets;

#[derive(Serialize)]
struct Message {
    message: String,
}

pub(super) async fn get_offsets(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    Ok(HttpResponse::Ok().json(state.herder.connector_offsets(&path).await?))
}

pub(super) async fn alter_offsets(
    state: web::Data<RestState>,
    path: web::Path<String>,
    body: web::Json<Json>,
) -> RestResult {
    let changes = offsets::parse_changes(&body)?;
    let message = state.herder.alter_connector_offsets(&path, changes).await?;
    Ok(HttpResponse::Ok().json(Message { message }))
}

pub(super) async fn reset_offsets(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    let message = state.herder.reset_connector_offsets(&path).await?;
    Ok(HttpResponse::Ok().json(Message { message }))
}

pub(super) async fn get_topics(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    let topics = state.herder.connector_active_topics(&path).await?;
    Ok(HttpResponse::Ok().json(json!({ path.as_str(): { "topics": topics } })))
}

pub(super) async fn reset_topics(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    state.herder.reset_connector_active_topics(&path).await?;
    Ok(HttpResponse::Accepted().finish())
}
