//! The registry client and the Avro converter against the real schema registry (Apicurio,
//! Confluent-compatible API).
//!
//! Run with:
//!   tests/services/services.sh up registry && eval "$(tests/services/services.sh env)"
//!   cargo test -p sluice-converters --features integration-tests
#![cfg(feature = "integration-tests")]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_api::{ConnectError, ConnectorConfig, Converter, Value};
use sluice_converters::avro::AvroFormat;
use sluice_converters::registry::RegistryConverter;

fn registry_url() -> String {
    std::env::var("SLUICE_REGISTRY_URL").unwrap_or_else(|_| {
        panic!(
            "SLUICE_REGISTRY_URL is not set. Start the registry with `tests/services/services.sh up registry`, \
             then `eval \"$(tests/services/services.sh env)\"` and run the tests again."
        )
    })
}

fn config(url: &str) -> ConnectorConfig {
    ConnectorConfig::new([("schema.registry.url".to_owned(), url.to_owned())].into_iter().collect())
}

/// Registers a new Avro schema (unique record name) and returns its id and the record name.
async fn register(url: &str) -> (u32, String) {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("Probe{nanos}");
    let schema = format!(r#"{{"type":"record","name":"{name}","fields":[{{"name":"n","type":"long"}}]}}"#);
    (register_under(url, &format!("{name}-value"), &schema).await, name)
}

fn framed(id: u32, n: i64) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    // Avro long: zig-zag varint (small values only here).
    out.push(((n << 1) ^ (n >> 63)) as u8);
    out
}

#[tokio::test]
async fn converters_of_one_worker_fetch_each_schema_id_once() {
    let url = registry_url();
    let (id, name) = register(&url).await;
    // A setting no other test uses, so this test has the shared client to itself (tests run in
    // parallel, and converters with equal registry settings share one client and its counter).
    let mut settings = config(&url).into_map();
    settings.insert("http.read.timeout.ms".to_owned(), "10007".to_owned());
    let config = ConnectorConfig::new(settings);
    let first = RegistryConverter::from_config(AvroFormat::new(&config).unwrap(), &config, false).unwrap();
    let second = RegistryConverter::from_config(AvroFormat::new(&config).unwrap(), &config, false).unwrap();
    assert!(Arc::ptr_eq(first.registry(), second.registry()), "tasks of one worker share the registry client");
    let before = first.registry().fetch_count();

    let records: Vec<Vec<u8>> = (0..20).map(|n| framed(id, n)).collect();
    let payloads: Vec<Option<&[u8]>> = records.iter().map(|r| Some(r.as_slice())).collect();
    first.prepare("t", &payloads).await.unwrap();
    second.prepare("t", &payloads).await.unwrap();
    first.prepare("t", &payloads).await.unwrap();
    assert_eq!(first.registry().fetch_count() - before, 1, "one fetch for the id, however many batches and tasks");

    let decoded = second.to_connect("t", &[], Some(&records[7])).unwrap();
    assert_eq!(decoded.schema.unwrap().name.as_deref(), Some(name.as_str()));
    match decoded.value {
        Value::Struct(s) => assert_eq!(s.get("n"), Some(&Value::Int64(7))),
        other => panic!("expected a struct, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_id_is_a_record_error_and_a_dead_registry_is_retriable() {
    let url = registry_url();
    let config = config(&url);
    let converter = RegistryConverter::from_config(AvroFormat::new(&config).unwrap(), &config, false).unwrap();
    let unknown = framed(2_000_000_000, 1);
    converter.prepare("t", &[Some(&unknown)]).await.expect("an unknown id does not fail the batch");
    let err = converter.to_connect("t", &[], Some(&unknown)).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }), "{err}");
    assert!(err.to_string().contains("2000000000"), "{err}");

    let closed = config_for_closed_port();
    let dead = RegistryConverter::from_config(AvroFormat::new(&closed).unwrap(), &closed, false).unwrap();
    let err = dead.prepare("t", &[Some(&framed(1, 1))]).await.unwrap_err();
    assert!(err.is_retriable(), "an unreachable registry must be retried, not skipped: {err}");
}

#[tokio::test]
async fn the_next_url_is_tried_when_the_first_does_not_answer() {
    let url = registry_url();
    let (id, _) = register(&url).await;
    let both = config(&format!("http://127.0.0.1:9/, {url}"));
    let converter = RegistryConverter::from_config(AvroFormat::new(&both).unwrap(), &both, false).unwrap();
    let record = framed(id, 3);
    converter.prepare("t", &[Some(&record)]).await.unwrap();
    assert!(converter.to_connect("t", &[], Some(&record)).is_ok());
}

fn config_for_closed_port() -> ConnectorConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    config(&format!("http://127.0.0.1:{port}"))
}

/// The registry behind TLS (a test CA) and basic auth: `tests/services/services.sh up registry-tls`.
fn tls_settings(user_info: Option<&str>, with_ca: bool) -> ConnectorConfig {
    let url = std::env::var("SLUICE_REGISTRY_TLS_URL").expect("SLUICE_REGISTRY_TLS_URL (services.sh env)");
    let mut settings = config(&url).into_map();
    if let Some(info) = user_info {
        settings.insert("basic.auth.credentials.source".to_owned(), "USER_INFO".to_owned());
        settings.insert("basic.auth.user.info".to_owned(), info.to_owned());
    }
    if with_ca {
        let ca = std::env::var("SLUICE_REGISTRY_TLS_CA").expect("SLUICE_REGISTRY_TLS_CA (services.sh env)");
        settings.insert("schema.registry.ssl.truststore.location".to_owned(), ca);
        settings.insert("schema.registry.ssl.truststore.type".to_owned(), "PEM".to_owned());
    }
    ConnectorConfig::new(settings)
}

#[tokio::test]
async fn tls_and_basic_auth_reach_a_secured_registry() {
    let (id, name) = register(&registry_url()).await;
    let user_info = std::env::var("SLUICE_REGISTRY_TLS_USER_INFO").expect("SLUICE_REGISTRY_TLS_USER_INFO");
    let secured = tls_settings(Some(&user_info), true);
    let converter = RegistryConverter::from_config(AvroFormat::new(&secured).unwrap(), &secured, false).unwrap();
    let record = framed(id, 5);
    converter.prepare("t", &[Some(&record)]).await.expect("TLS with the test CA and basic auth work");
    let decoded = converter.to_connect("t", &[], Some(&record)).unwrap();
    assert_eq!(decoded.schema.unwrap().name.as_deref(), Some(name.as_str()));

    // Wrong credentials: a setting to fix, not bad records; the task fails naming the keys.
    let wrong = tls_settings(Some("sluice:not-the-password"), true);
    let refused = RegistryConverter::from_config(AvroFormat::new(&wrong).unwrap(), &wrong, false).unwrap();
    let err = refused.prepare("t", &[Some(&record)]).await.unwrap_err();
    assert!(matches!(err, ConnectError::Fatal { .. }), "{err}");
    assert!(err.to_string().contains("401") && err.to_string().contains("basic.auth.user.info"), "{err}");

    // The server's certificate is not trusted without the test CA: the batch is not decoded
    // (and not skipped); the error says why.
    let untrusted = tls_settings(Some(&user_info), false);
    let no_ca = RegistryConverter::from_config(AvroFormat::new(&untrusted).unwrap(), &untrusted, false).unwrap();
    let err = no_ca.prepare("t", &[Some(&record)]).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
}

/// Registers `schema` under `subject`, returns its id.
async fn register_under(url: &str, subject: &str, schema: &str) -> u32 {
    let body = serde_json::json!({ "schema": schema }).to_string();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/subjects/{subject}/versions"))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(body)
        .send()
        .await
        .expect("the registry answers")
        .json()
        .await
        .expect("a JSON answer");
    answer["id"].as_u64().unwrap_or_else(|| panic!("no id in {answer}")) as u32
}

#[tokio::test]
async fn the_schema_version_comes_from_the_subject_the_strategy_names() {
    // The registry gives one content one id in every subject, so each schema is registered in
    // both subjects, in opposite orders: under <topic>-value v1 is version 1 and v2 version 2;
    // under the record's full name v2 is version 1 and v1 version 2. A converter that ignored
    // its strategy would find the other subject's version.
    let url = registry_url();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let topic = format!("visits{nanos}");
    let v1 = format!(
        r#"{{"type":"record","name":"Visit{nanos}","namespace":"acme","fields":[{{"name":"n","type":"long"}}]}}"#
    );
    let v2 = format!(
        r#"{{"type":"record","name":"Visit{nanos}","namespace":"acme","fields":[{{"name":"n","type":"long"}},{{"name":"m","type":"long","default":0}}]}}"#
    );
    let (topic_subject, record_subject) = (format!("{topic}-value"), format!("acme.Visit{nanos}"));
    let id1 = register_under(&url, &topic_subject, &v1).await;
    let id2 = register_under(&url, &topic_subject, &v2).await;
    assert_eq!(register_under(&url, &record_subject, &v2).await, id2, "one id per content");
    assert_eq!(register_under(&url, &record_subject, &v1).await, id1, "one id per content");

    let record_v1 = framed(id1, 1);
    let record_v2 = [framed(id2, 1), vec![0]].concat(); // n = 1 (zig-zag 2), m = 0
    let version = |converter: RegistryConverter<AvroFormat>, record: Vec<u8>| {
        let topic = topic.clone();
        async move {
            converter.prepare(&topic, &[Some(&record)]).await.unwrap();
            converter.to_connect(&topic, &[], Some(&record)).unwrap().schema.unwrap().version
        }
    };
    let converter = |strategy: Option<&str>| {
        let mut settings = config(&url).into_map();
        if let Some(strategy) = strategy {
            settings.insert("value.subject.name.strategy".to_owned(), strategy.to_owned());
        }
        let config = ConnectorConfig::new(settings);
        RegistryConverter::from_config(AvroFormat::new(&config).unwrap(), &config, false).unwrap()
    };
    let by_topic = || converter(None);
    let by_record = || converter(Some("io.confluent.kafka.serializers.subject.RecordNameStrategy"));

    assert_eq!(version(by_topic(), record_v1.clone()).await, Some(1), "v1 under <topic>-value");
    assert_eq!(version(by_topic(), record_v2.clone()).await, Some(2), "v2 under <topic>-value");
    assert_eq!(version(by_record(), record_v1).await, Some(2), "v1 under the record's full name");
    assert_eq!(version(by_record(), record_v2).await, Some(1), "v2 under the record's full name");
}
