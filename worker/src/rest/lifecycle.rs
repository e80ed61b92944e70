//! A connector's state: status, tasks, pause/resume/stop and restarts.

use actix_web::{web, HttpRequest, HttpResponse};

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

/// Jersey's `Boolean` query parameters: `true` in any case is true, anything else false.
fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The first value of query parameter `name`. Jersey's `@QueryParam` takes the first of a
/// repeated parameter, so `?onlyFailed=true&onlyFailed=false` is `onlyFailed=true`, not an error.
fn first_query_value(query: &str, name: &str) -> Option<String> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query).ok()?.into_inner();
    pairs.into_iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

pub(super) async fn restart(state: web::Data<RestState>, path: web::Path<String>, req: HttpRequest) -> RestResult {
    let query = req.query_string();
    let request = RestartRequest {
        include_tasks: flag(first_query_value(query, "includeTasks").as_deref()),
        only_failed: flag(first_query_value(query, "onlyFailed").as_deref()),
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

    #[test]
    fn a_repeated_query_parameter_counts_with_its_first_value() {
        let query = "onlyFailed=null&onlyFailed=null&includeTasks=TRUE&includeTasks=false";
        assert_eq!(first_query_value(query, "onlyFailed").as_deref(), Some("null"));
        assert_eq!(first_query_value(query, "includeTasks").as_deref(), Some("TRUE"));
        assert_eq!(first_query_value("include%54asks=tr%75e", "includeTasks").as_deref(), Some("true"));
        assert_eq!(first_query_value("", "onlyFailed"), None);
    }
}
