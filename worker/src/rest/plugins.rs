//! `GET /connector-plugins`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use sluice_api::PluginKind;

use super::RestState;

#[derive(Deserialize)]
struct ListQuery {
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

async fn list(state: web::Data<RestState>, query: web::Query<ListQuery>) -> HttpResponse {
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

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/connector-plugins", web::get().to(list)).route("/connector-plugins/", web::get().to(list));
}
