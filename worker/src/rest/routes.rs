//! The route table: every (method, path) the REST API serves, and the handler for each. The
//! server registers exactly these (see [`super::configure`]), and a test checks that
//! `worker/openapi.yaml` documents exactly these, so the table is the one place to add a route.

use actix_web::http::Method;
use actix_web::web;

use super::{connectors, console, dead_letters, lifecycle, offsets, plugins, worker};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    /// The actix method guard value.
    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }

    /// The lower-case name, as OpenAPI spells operations.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
}

/// One route: method, path pattern (`{param}` segments) and its handler.
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    /// Builds the actix route (without its method guard, which comes from `verb`).
    pub handler: fn() -> actix_web::Route,
}

const fn route(verb: Verb, path: &'static str, handler: fn() -> actix_web::Route) -> Route {
    Route { verb, path, handler }
}

use Verb::{Delete, Get, Patch, Post, Put};

/// Every route, grouped by path in the order Kafka Connect's resources list them.
pub static ROUTES: &[Route] = &[
    route(Get, "/", || web::to(worker::root)),
    route(Get, "/health", || web::to(worker::health)),
    route(Get, "/connectors", || web::to(connectors::list)),
    route(Post, "/connectors", || web::to(connectors::create)),
    route(Get, "/connectors/{connector}", || web::to(connectors::get_info)),
    route(Delete, "/connectors/{connector}", || web::to(connectors::delete)),
    route(Get, "/connectors/{connector}/config", || web::to(connectors::get_config)),
    route(Put, "/connectors/{connector}/config", || web::to(connectors::put_config)),
    route(Patch, "/connectors/{connector}/config", || web::to(connectors::patch_config)),
    route(Get, "/connectors/{connector}/status", || web::to(lifecycle::get_status)),
    route(Post, "/connectors/{connector}/restart", || web::to(lifecycle::restart)),
    route(Put, "/connectors/{connector}/pause", || web::to(lifecycle::pause)),
    route(Put, "/connectors/{connector}/resume", || web::to(lifecycle::resume)),
    route(Put, "/connectors/{connector}/stop", || web::to(lifecycle::stop)),
    route(Get, "/connectors/{connector}/tasks", || web::to(lifecycle::get_tasks)),
    route(Get, "/connectors/{connector}/tasks/{task}/status", || web::to(lifecycle::get_task_status)),
    route(Post, "/connectors/{connector}/tasks/{task}/restart", || web::to(lifecycle::restart_task)),
    route(Get, "/connectors/{connector}/topics", || web::to(offsets::get_topics)),
    route(Put, "/connectors/{connector}/topics/reset", || web::to(offsets::reset_topics)),
    route(Get, "/connectors/{connector}/offsets", || web::to(offsets::get_offsets)),
    route(Patch, "/connectors/{connector}/offsets", || web::to(offsets::alter_offsets)),
    route(Delete, "/connectors/{connector}/offsets", || web::to(offsets::reset_offsets)),
    route(Get, "/connector-plugins", || web::to(plugins::list)),
    route(Get, "/connector-plugins/{plugin}/config", || web::to(plugins::get_config)),
    route(Put, "/connector-plugins/{plugin}/config/validate", || web::to(plugins::validate)),
    route(Get, "/admin/loggers", || web::to(worker::list_loggers)),
    route(Get, "/admin/loggers/{logger}", || web::to(worker::get_logger)),
    route(Put, "/admin/loggers/{logger}", || web::to(worker::set_logger)),
    route(Get, "/sluice/cluster", || web::to(worker::cluster)),
    route(Get, "/sluice/connectors/{connector}/dead-letters", || web::to(dead_letters::list)),
    route(Get, "/metrics", || web::to(worker::metrics)),
    route(Get, "/ui", || web::to(console::index)),
    route(Get, "/ui/{asset}", || web::to(console::asset)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.verb, r.path)), "{:?} {} is listed twice", r.verb, r.path);
            assert!(r.path.starts_with('/'), "{}", r.path);
        }
    }
}
