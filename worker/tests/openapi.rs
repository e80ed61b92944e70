//! Keeps `worker/openapi.yaml` true: it documents exactly the routes the server serves, every
//! `$ref` in it resolves, and every path parameter is declared. The served routes are checked
//! on a real app (the standalone herder over a temporary store), not only read from the table.

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::{test as web_test, web, App};
use serde_norway::Value;
use sluice_worker::herder::Herder;
use sluice_worker::logging::Loggers;
use sluice_worker::rest::routes::ROUTES;
use sluice_worker::rest::{self, RestState};
use sluice_worker::store::ConfigStore;
use sluice_worker::worker::Worker;
use sluice_worker::worker_config::WorkerConfig;

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).expect("read openapi.yaml");
    serde_norway::from_str(&text).expect("openapi.yaml is valid YAML")
}

/// `{anything}` → `{}`, so parameter names do not have to match to compare paths.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

fn documented_routes(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_mapping().expect("openapi.yaml has paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("path keys are strings");
        for (key, _) in item.as_mapping().expect("path items are mappings") {
            let key = key.as_str().unwrap_or_default();
            if METHODS.contains(&key) {
                routes.insert((key.to_owned(), shape(path)));
            }
        }
    }
    routes
}

fn served_routes() -> BTreeSet<(String, String)> {
    ROUTES.iter().map(|r| (r.verb.name().to_owned(), shape(r.path))).collect()
}

#[test]
fn openapi_documents_exactly_the_served_routes() {
    let documented = documented_routes(&spec());
    let served = served_routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "routes served but missing from openapi.yaml: {undocumented:?}");
    assert!(not_served.is_empty(), "routes in openapi.yaml that the server does not serve: {not_served:?}");
    assert_eq!(served.len(), ROUTES.len(), "two table entries collapse to one route");
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("$ref") {
                    out.push(v.as_str().expect("$ref is a string").to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn resolve<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix("#/")?;
    pointer.split('/').try_fold(spec, |node, part| node.get(part))
}

#[test]
fn every_reference_resolves_and_every_operation_answers() {
    let spec = spec();
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.0")), "OpenAPI 3.0 document");
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(resolve(&spec, r).is_some(), "unresolved $ref {r}");
    }
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        for (method, op) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if !METHODS.contains(&method) {
                continue;
            }
            let responses = op["responses"].as_mapping();
            assert!(responses.is_some_and(|r| !r.is_empty()), "{method} {path} documents no responses");
            // Every {param} of the path is declared, on the path or on the operation.
            let declared: BTreeSet<String> = item
                .get("parameters")
                .into_iter()
                .chain(op.get("parameters"))
                .flat_map(|ps| ps.as_sequence().cloned().unwrap_or_default())
                .map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&spec, r).cloned().expect("parameter ref resolves"),
                    None => p,
                })
                .filter(|p| p["in"].as_str() == Some("path"))
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
        }
    }
}

/// A concrete URL for a route: sample values for its parameters.
fn sample_url(pattern: &str) -> String {
    pattern
        .replace("{connector}", "no-such-connector")
        .replace("{task}", "0")
        .replace("{plugin}", "ClickHouseSink")
        .replace("{logger}", "root")
}

#[actix_web::test]
async fn the_app_serves_every_route_of_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        WorkerConfig::from_map([("bootstrap.servers".to_owned(), "127.0.0.1:1".to_owned())].into(), dir.path())
            .unwrap();
    let worker = Worker::new(
        Arc::new(config),
        Arc::new(sluice_worker::plugins::builtin_plugins()),
        Arc::new(Loggers::detached("info").unwrap()),
    );
    let herder = Herder::start(worker, ConfigStore::open(&dir.path().join("data")).unwrap()).await.unwrap();
    let state = web::Data::new(RestState { herder, kafka_cluster_id: None });
    let app = web_test::init_service(App::new().app_data(state).configure(rest::configure)).await;

    for route in ROUTES {
        let url = sample_url(route.path);
        let request = web_test::TestRequest::default().method(route.verb.method()).uri(&url);
        // An empty JSON object: handlers answer with their own errors, the router with neither 404 nor 405.
        let request = match route.verb.name() {
            "post" | "put" | "patch" => request.set_json(serde_json::json!({})),
            _ => request,
        };
        let response = web_test::call_service(&app, request.to_request()).await;
        let status = response.status().as_u16();
        let bytes = web_test::read_body(response).await;
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_ne!(status, 405, "{} {url} is not served: {body}", route.verb.name());
        assert!(
            !(status == 404 && body["message"] == "HTTP 404 Not Found"),
            "{} {url} is not routed: {body}",
            route.verb.name()
        );
        if let Some(code) = body.get("error_code") {
            assert_eq!(code.as_u64(), Some(u64::from(status)), "{} {url}: error body {body}", route.verb.name());
        }
    }

    // The other side: a wrong method is a JSON 405, an unknown path a JSON 404.
    let response = web_test::call_service(&app, web_test::TestRequest::delete().uri("/health").to_request()).await;
    assert_eq!(response.status().as_u16(), 405);
    let body: serde_json::Value = web_test::read_body_json(response).await;
    assert_eq!(body, serde_json::json!({"error_code": 405, "message": "HTTP 405 Method Not Allowed"}));
    let response = web_test::call_service(&app, web_test::TestRequest::get().uri("/no/such/route").to_request()).await;
    assert_eq!(response.status().as_u16(), 404);
    let response =
        web_test::call_service(&app, web_test::TestRequest::get().uri("/connectors/x/tasks/one/status").to_request())
            .await;
    assert_eq!(response.status().as_u16(), 404, "a task number that is not a number is no such resource");
}
