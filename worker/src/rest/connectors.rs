//! `/connectors` and `/connectors/{c}` and `…/config`: creating, reading, reconfiguring and
//! deleting connectors.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use super::error::RestError;
use super::{RestResult, RestState};
use crate::herder::keys;
use crate::status::TargetState;

#[derive(Deserialize)]
pub(super) struct CreateRequest {
    name: Option<String>,
    config: Option<Map<String, Json>>,
    initial_state: Option<String>,
}

/// Kafka Connect accepts numbers and booleans where strings are expected; so do we.
pub(super) fn string_map(config: Map<String, Json>) -> Result<BTreeMap<String, String>, RestError> {
    config
        .into_iter()
        .map(|(k, v)| match v {
            Json::String(s) => Ok((k, s)),
            Json::Number(n) => Ok((k, n.to_string())),
            Json::Bool(b) => Ok((k, b.to_string())),
            Json::Null => Err(RestError::bad_request(format!(
                "Configuration key {k} has a null value; give it a string value or leave it out."
            ))),
            other => {
                Err(RestError::bad_request(format!("Configuration key {k} must have a string value, got {other}.")))
            }
        })
        .collect()
}

/// A `PATCH /connectors/{c}/config` body: values as in [`string_map`], `null` removes the key.
fn patch_map(patch: Map<String, Json>) -> Result<BTreeMap<String, Option<String>>, RestError> {
    let (removed, set): (Map<String, Json>, Map<String, Json>) = patch.into_iter().partition(|(_, v)| v.is_null());
    let mut out: BTreeMap<String, Option<String>> = string_map(set)?.into_iter().map(|(k, v)| (k, Some(v))).collect();
    out.extend(removed.into_iter().map(|(k, _)| (k, None)));
    Ok(out)
}

/// Puts `name` into the config, or checks it matches the one already there.
fn with_name(name: &str, mut config: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, RestError> {
    match config.get(keys::NAME) {
        Some(existing) if existing.trim() != name => Err(RestError::bad_request(format!(
            "Connector name configuration ({existing}) doesn't match connector name in the URL ({name})"
        ))),
        _ => {
            config.insert(keys::NAME.to_owned(), name.to_owned());
            Ok(config)
        }
    }
}

fn check_name(name: &str) -> Result<(), RestError> {
    if name.is_empty() {
        return Err(RestError::bad_request("Connector name cannot be empty; set \"name\" in the request body."));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(RestError::bad_request(format!(
            "Connector name {name:?} may not contain '/' or control characters."
        )));
    }
    Ok(())
}

fn parse_initial_state(state: Option<&str>) -> Result<TargetState, RestError> {
    match state.map(str::trim).map(str::to_ascii_uppercase).as_deref() {
        None | Some("RUNNING") => Ok(TargetState::Running),
        Some("PAUSED") => Ok(TargetState::Paused),
        Some("STOPPED") => Ok(TargetState::Stopped),
        Some(other) => {
            Err(RestError::bad_request(format!("Invalid initial_state {other:?}; use RUNNING, PAUSED or STOPPED.")))
        }
    }
}

pub(super) async fn list(state: web::Data<RestState>, req: HttpRequest) -> RestResult {
    let names = state.herder.connector_names().await;
    let expand: Vec<String> = req
        .query_string()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "expand")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    if expand.is_empty() {
        return Ok(HttpResponse::Ok().json(names));
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        // A connector deleted between listing and expanding is simply left out.
        if expand.iter().any(|e| e == "status") {
            match state.herder.connector_status(&name).await {
                Ok(s) => entry.insert("status".into(), serde_json::to_value(s).unwrap_or_default()),
                Err(_) => continue,
            };
        }
        if expand.iter().any(|e| e == "info") {
            match state.herder.connector_info(&name).await {
                Ok(i) => entry.insert(
                    "info".into(),
                    serde_json::to_value(i.hiding_secrets(state.herder.worker())).unwrap_or_default(),
                ),
                Err(_) => continue,
            };
        }
        out.insert(name, Json::Object(entry));
    }
    Ok(HttpResponse::Ok().json(out))
}

pub(super) async fn create(state: web::Data<RestState>, body: web::Json<CreateRequest>) -> RestResult {
    let body = body.into_inner();
    let name = body.name.as_deref().map(str::trim).unwrap_or_default().to_owned();
    check_name(&name)?;
    let config = body.config.ok_or_else(|| {
        RestError::bad_request("Request body has no \"config\" object; send {\"name\": …, \"config\": {…}}.")
    })?;
    let config = with_name(&name, string_map(config)?)?;
    let initial = parse_initial_state(body.initial_state.as_deref())?;
    let info = state.herder.create_connector(&name, config, initial).await?.hiding_secrets(state.herder.worker());
    Ok(HttpResponse::Created().insert_header((header::LOCATION, format!("/connectors/{name}"))).json(info))
}

pub(super) async fn get_info(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    Ok(HttpResponse::Ok().json(state.herder.connector_info(&path).await?.hiding_secrets(state.herder.worker())))
}

pub(super) async fn get_config(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    let config = state.herder.connector_config(&path).await?;
    Ok(HttpResponse::Ok().json(state.herder.worker().hide_secrets(&config)))
}

pub(super) async fn put_config(
    state: web::Data<RestState>,
    path: web::Path<String>,
    body: web::Json<Map<String, Json>>,
) -> RestResult {
    let name = path.into_inner();
    check_name(&name)?;
    let config = with_name(&name, string_map(body.into_inner())?)?;
    let (created, info) = state.herder.put_connector_config(&name, config).await?;
    let info = info.hiding_secrets(state.herder.worker());
    Ok(if created {
        HttpResponse::Created().insert_header((header::LOCATION, format!("/connectors/{name}"))).json(info)
    } else {
        HttpResponse::Ok().json(info)
    })
}

pub(super) async fn patch_config(
    state: web::Data<RestState>,
    path: web::Path<String>,
    body: web::Json<Map<String, Json>>,
) -> RestResult {
    let name = path.into_inner();
    let patch = patch_map(body.into_inner())?;
    if let Some(Some(named)) = patch.get(keys::NAME) {
        with_name(&name, [(keys::NAME.to_owned(), named.clone())].into())?;
    }
    let info = state.herder.patch_connector_config(&name, patch).await?;
    Ok(HttpResponse::Ok().json(info.hiding_secrets(state.herder.worker())))
}

pub(super) async fn delete(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    state.herder.delete_connector(&path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_are_coerced_to_strings_like_kafka_connect() {
        let json: Map<String, Json> = serde_json::from_str(r#"{"tasks.max": 4, "ssl": false, "topics": "a"}"#).unwrap();
        let map = string_map(json).unwrap();
        assert_eq!(map["tasks.max"], "4");
        assert_eq!(map["ssl"], "false");
        let bad: Map<String, Json> = serde_json::from_str(r#"{"topics": null}"#).unwrap();
        assert!(string_map(bad).unwrap_err().message.contains("topics"));
    }

    #[test]
    fn patch_nulls_remove_keys_and_other_values_become_strings() {
        let json: Map<String, Json> = serde_json::from_str(r#"{"tasks.max": 2, "topics.regex": null}"#).unwrap();
        let patch = patch_map(json).unwrap();
        assert_eq!(patch["tasks.max"].as_deref(), Some("2"));
        assert_eq!(patch["topics.regex"], None);
        let bad: Map<String, Json> = serde_json::from_str(r#"{"topics": ["a"]}"#).unwrap();
        assert!(patch_map(bad).unwrap_err().message.contains("topics"));
    }

    #[test]
    fn name_in_config_must_match() {
        let cfg: BTreeMap<String, String> = [("name".to_owned(), "other".to_owned())].into();
        assert!(with_name("mine", cfg).unwrap_err().message.contains("doesn't match"));
        let filled = with_name("mine", BTreeMap::new()).unwrap();
        assert_eq!(filled["name"], "mine");
        assert!(check_name("a/b").is_err());
        assert!(parse_initial_state(Some("paused")).is_ok());
        assert!(parse_initial_state(Some("sleeping")).is_err());
    }
}
