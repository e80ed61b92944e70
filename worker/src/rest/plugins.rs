//! `/connector-plugins`: the installed plugins, their config keys, and config validation.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use sluice_api::{PluginKind, PluginRegistry};

use super::connectors::string_map;
use super::error::RestError;
use super::{RestResult, RestState};
use crate::herder::keys;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "connectorsOnly")]
    connectors_only: Option<bool>,
}

#[derive(Serialize)]
struct PluginInfo<'a> {
    class: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    version: &'a str,
}

pub(super) async fn list(state: web::Data<RestState>, query: web::Query<ListQuery>) -> HttpResponse {
    let connectors_only = query.connectors_only.unwrap_or(true);
    let plugins: Vec<PluginInfo<'_>> = state
        .herder
        .plugins()
        .plugins()
        .filter(|p| !connectors_only || p.kind == PluginKind::Sink)
        .map(|p| PluginInfo { class: p.class, kind: p.kind.rest_name(), version: p.version })
        .collect();
    HttpResponse::Ok().json(plugins)
}

pub(super) async fn get_config(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    Ok(HttpResponse::Ok().json(state.herder.connector_plugin_config(&path)?))
}

pub(super) async fn validate(
    state: web::Data<RestState>,
    path: web::Path<String>,
    body: web::Json<Map<String, Json>>,
) -> RestResult {
    let config = string_map(body.into_inner())?;
    if let Some(class) = config.get(keys::CONNECTOR_CLASS) {
        if !same_plugin(state.herder.plugins(), class, &path) {
            return Err(RestError::bad_request(format!(
                "Included connector type {class} does not match request type {path}"
            )));
        }
    }
    Ok(HttpResponse::Ok().json(state.herder.validate_connector_config(config).await?))
}

/// Kafka Connect's rule (the class ends with the path's name, either without a `Connector`
/// suffix), plus: two names of one Sluice plugin (class, alias, simple name) match.
fn same_plugin(plugins: &PluginRegistry, class: &str, requested: &str) -> bool {
    fn normalized(name: &str) -> &str {
        name.strip_suffix("Connector").filter(|n| !n.is_empty()).unwrap_or(name)
    }
    let (class, requested) = (class.trim(), requested.trim());
    if normalized(class).ends_with(normalized(requested)) {
        return true;
    }
    match (plugins.describe(class), plugins.describe(requested)) {
        (Some(a), Some(b)) => a.class == b.class,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_and_path_match_by_suffix_or_by_plugin() {
        let plugins = crate::plugins::builtin_plugins();
        let official = "com.clickhouse.kafka.connect.ClickHouseSinkConnector";
        assert!(same_plugin(&plugins, official, "ClickHouseSinkConnector"));
        assert!(same_plugin(&plugins, official, "ClickHouseSink"));
        assert!(same_plugin(&plugins, official, "io.sluice.connect.clickhouse.ClickHouseSinkConnector"));
        assert!(!same_plugin(&plugins, official, "org.apache.kafka.connect.json.JsonConverter"));
        assert!(!same_plugin(&plugins, "com.example.Other", "ClickHouseSink"));
    }
}
