//! A connector's state: status, tasks, pause/resume/stop and restarts.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::{RestResult, RestState};
use crate::herder::restart::RestartRequest;
use crate::status::TargetState;

pub(super) async fn get_status(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    Ok(HttpResponse::Ok().json(state.herder.connector_status(&path).await?))
}

pub(super) async fn get_tasks(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    let worker = state.herder.worker();
    let tasks: Vec<_> = state.herder.task_infos(&path).await?.into_iter().map(|t| t.hiding_secrets(worker)).collect();
    Ok(HttpResponse::Ok().json(tasks))
}

pub(super) async fn get_task_status(state: web::Data<RestState>, path: web::Path<(String, usize)>) -> RestResult {
    let (name, task) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.herder.task_status(&name, task).await?))
}

pub(super) async fn pause(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    state.herder.set_target_state(&path, TargetState::Paused).await?;
    Ok(HttpResponse::Accepted().finish())
}

pub(super) async fn resume(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    state.herder.set_target_state(&path, TargetState::Running).await?;
    Ok(HttpResponse::Accepted().finish())
}

pub(super) async fn stop(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    state.herder.set_target_state(&path, TargetState::Stopped).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub(super) struct RestartQuery {
    #[serde(rename = "includeTasks")]
    include_tasks: Option<String>,
    #[serde(rename = "onlyFailed")]
    only_failed: Option<String>,
}

/// Jersey's `Boolean` query parameters: `true` in any case is true, anything else false.
fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

pub(super) async fn restart(
    state: web::Data<RestState>,
    path: web::Path<String>,
    query: web::Query<RestartQuery>,
) -> RestResult {
    let request = RestartRequest {
        include_tasks: flag(query.include_tasks.as_deref()),
        only_failed: flag(query.only_failed.as_deref()),
    };
    if request.connector_only() {
        state.herder.restart_connector(&path).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    Ok(HttpResponse::Accepted().json(state.herder.restart_connector_and_tasks(&path, request).await?))
}

pub(super) async fn restart_task(state: web::Data<RestState>, path: web::Path<(String, usize)>) -> RestResult {
    let (name, task) = path.into_inner();
    state.herder.restart_task(&name, task).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_flags_are_true_only_when_they_say_true() {
        assert!(flag(Some("true")) && flag(Some("TRUE")));
        assert!(!flag(Some("yes")) && !flag(Some("")) && !flag(None));
    }
}
