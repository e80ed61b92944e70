//! The small commands: listings, lifecycle actions, restarts and offsets.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::ConnectClient;
use super::describe::offsets_table;
use super::output::{self, hide_secrets, text, Format, Table};
use super::CtlError;

/// A file's text; `-` is stdin.
pub fn read_input(path: &Path) -> Result<String, CtlError> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|source| CtlError::Read { path: "stdin".into(), source })?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|source| CtlError::Read { path: path.display().to_string(), source })
}

/// `GET /connectors?expand=status&expand=info`, secrets hidden.
async fn expanded_connectors(client: &ConnectClient) -> Result<BTreeMap<String, Value>, CtlError> {
    let query = [("expand", "status"), ("expand", "info")];
    let mut connectors: BTreeMap<String, Value> = client.get(&["connectors"], &query).await?.json("the connectors")?;
    for connector in connectors.values_mut() {
        if let Some(config) = connector.pointer_mut("/info/config") {
            hide_secrets(config);
        }
    }
    Ok(connectors)
}

pub async fn get_connectors(client: &ConnectClient, format: Format) -> Result<(), CtlError> {
    let connectors = expanded_connectors(client).await?;
    if format != Format::Table {
        print!("{}", output::data(&connectors, format)?);
        return Ok(());
    }
    print!("{}", connectors_table(&connectors));
    Ok(())
}

/// NAME, TYPE, STATE, TASKS (running/total), WORKERS (those running the connector's tasks,
/// else the connector's own).
pub fn connectors_table(connectors: &BTreeMap<String, Value>) -> String {
    let mut table = Table::new(&["NAME", "TYPE", "STATE", "TASKS", "WORKERS"]);
    for (name, c) in connectors {
        let tasks = c.pointer("/status/tasks").and_then(Value::as_array).cloned().unwrap_or_default();
        let running = tasks.iter().filter(|t| text(t, "/state") == "RUNNING").count();
        let mut workers: Vec<&str> = tasks.iter().map(|t| text(t, "/worker_id")).filter(|w| !w.is_empty()).collect();
        if workers.is_empty() {
            workers.push(text(c, "/status/connector/worker_id"));
        }
        workers.sort_unstable();
        workers.dedup();
        let kind = match text(c, "/info/type") {
            "" => text(c, "/status/type"),
            kind => kind,
        };
        table.row(vec![
            name.clone(),
            kind.to_owned(),
            text(c, "/status/connector/state").to_owned(),
            format!("{running}/{}", tasks.len()),
            workers.join(","),
        ]);
    }
    table.render()
}

pub async fn get_plugins(client: &ConnectClient, format: Format) -> Result<(), CtlError> {
    let plugins: Vec<Value> = client.get(&["connector-plugins"], &[]).await?.json("the plugins")?;
    if format != Format::Table {
        print!("{}", output::data(&plugins, format)?);
        return Ok(());
    }
    let mut table = Table::new(&["CLASS", "TYPE", "VERSION"]);
    for p in &plugins {
        table.row(vec![text(p, "/class").into(), text(p, "/type").into(), text(p, "/version").into()]);
    }
    print!("{}", table.render());
    Ok(())
}

/// `GET /sluice/cluster`'s body.
#[derive(Debug, Deserialize, serde::Serialize)]
struct Cluster {
    worker_id: String,
    leader: bool,
    members: Vec<String>,
    #[serde(default)]
    joined: bool,
}

pub async fn get_workers(client: &ConnectClient, format: Format) -> Result<(), CtlError> {
    let cluster: Cluster = match client.get_if_found(&["sluice", "cluster"]).await? {
        Some(answer) => answer.json("the cluster")?,
        None => {
            return Err(CtlError::Failed(format!(
                "`get workers` is not available at {}: it has no /sluice/cluster, so it is not a Sluice worker \
                 (a JVM Kafka Connect runtime does not list its workers over REST); \
                 `sluice ctl get connectors` shows which workers run each connector's tasks",
                client.base()
            )))
        }
    };
    let mut tasks: BTreeMap<String, usize> = cluster.members.iter().map(|m| (m.clone(), 0)).collect();
    for c in expanded_connectors(client).await?.values() {
        for t in c.pointer("/status/tasks").and_then(Value::as_array).into_iter().flatten() {
            *tasks.entry(text(t, "/worker_id").to_owned()).or_default() += 1;
        }
    }
    if format != Format::Table {
        print!("{}", output::data(&json!({ "cluster": cluster, "tasks": tasks }), format)?);
        return Ok(());
    }
    let mut table = Table::new(&["WORKER", "ROLE", "TASKS"]);
    for (worker, count) in &tasks {
        let role = match (worker == &cluster.worker_id, cluster.leader, cluster.members.contains(worker)) {
            (true, true, _) => "leader (answered)",
            (true, false, _) => "member (answered)",
            (false, _, true) => "member",
            (false, _, false) => "not a member (stale status)",
        };
        table.row(vec![worker.clone(), role.to_owned(), count.to_string()]);
    }
    print!("{}", table.render());
    if !cluster.joined {
        eprintln!("warning: {} is not in its group now: it runs no tasks until it rejoins", cluster.worker_id);
    }
    Ok(())
}

/// The one-request lifecycle actions.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Delete,
    Pause,
    Resume,
    Stop,
}

pub async fn lifecycle(client: &ConnectClient, name: &str, action: Action) -> Result<(), CtlError> {
    let (method, segments, done): (Method, &[&str], &str) = match action {
        Action::Delete => (Method::DELETE, &["connectors", name], "deleted"),
        Action::Pause => (Method::PUT, &["connectors", name, "pause"], "pausing"),
        Action::Resume => (Method::PUT, &["connectors", name, "resume"], "resuming"),
        Action::Stop => (Method::PUT, &["connectors", name, "stop"], "stopped"),
    };
    client.send(method, segments, &[], None).await?;
    println!("connector {name} {done}");
    Ok(())
}

pub async fn restart(
    client: &ConnectClient,
    name: &str,
    tasks: bool,
    failed_only: bool,
    format: Format,
) -> Result<(), CtlError> {
    let flag = |b: bool| if b { "true" } else { "false" };
    let query = [("includeTasks", flag(tasks)), ("onlyFailed", flag(failed_only))];
    let answer = client.send(Method::POST, &["connectors", name, "restart"], &query, None).await?;
    if answer.body.trim().is_empty() {
        println!("connector {name} restarted");
        return Ok(());
    }
    let status: Value = answer.json("the restart's status")?;
    if format != Format::Table {
        print!("{}", output::data(&status, format)?);
        return Ok(());
    }
    println!("{}", restart_summary(name, &status));
    Ok(())
}

/// Which instances a 202 answer shows RESTARTING.
pub fn restart_summary(name: &str, status: &Value) -> String {
    let mut restarting = Vec::new();
    if text(status, "/connector/state") == "RESTARTING" {
        restarting.push("the connector".to_owned());
    }
    for t in status.get("tasks").and_then(Value::as_array).into_iter().flatten() {
        if text(t, "/state") == "RESTARTING" {
            restarting.push(format!("task {}", t.get("id").map(Value::to_string).unwrap_or_default()));
        }
    }
    if restarting.is_empty() {
        format!("connector {name}: nothing to restart (no instance matched)")
    } else {
        format!("connector {name}: restarting {}", restarting.join(", "))
    }
}

pub async fn offsets_get(client: &ConnectClient, name: &str, format: Format) -> Result<(), CtlError> {
    let offsets: Value = client.get(&["connectors", name, "offsets"], &[]).await?.json("the offsets")?;
    match format {
        Format::Table => print!("{}", offsets_table(&offsets, &[], "")),
        other => print!("{}", output::data(&offsets, other)?),
    }
    Ok(())
}

pub async fn offsets_reset(client: &ConnectClient, name: &str) -> Result<(), CtlError> {
    let answer = client.send(Method::DELETE, &["connectors", name, "offsets"], &[], None).await?;
    println!("{}", message_of(&answer.body, &format!("the offsets of connector {name} were reset")));
    Ok(())
}

pub async fn offsets_set(client: &ConnectClient, name: &str, file: &Path) -> Result<(), CtlError> {
    let text = read_input(file)?;
    let body =
        offsets_body(&text).map_err(|message| CtlError::ApplyFile { file: file.display().to_string(), message })?;
    let answer = client.send(Method::PATCH, &["connectors", name, "offsets"], &[], Some(&body)).await?;
    println!("{}", message_of(&answer.body, &format!("the offsets of connector {name} were changed")));
    Ok(())
}

/// Kafka Connect's `{"offsets": [...]}` from a JSON or YAML file; a bare list is wrapped.
pub fn offsets_body(text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text)
        .or_else(|_| serde_norway::from_str(text))
        .map_err(|e| format!("neither JSON nor YAML: {e}"))?;
    let body = match value {
        Value::Array(entries) => json!({ "offsets": entries }),
        object @ Value::Object(_) if object.get("offsets").is_some_and(Value::is_array) => object,
        _ => {
            return Err("expected {\"offsets\": [{\"partition\": {\"kafka_topic\", \"kafka_partition\"}, \
                        \"offset\": {\"kafka_offset\"}}]} (or just the list)"
                .to_owned())
        }
    };
    Ok(body)
}

/// The `message` of a `{"message"}` answer, else `fallback`.
fn message_of(body: &str, fallback: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| fallback.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connectors_table_counts_running_tasks_and_lists_workers() {
        let connectors: BTreeMap<String, Value> = serde_json::from_value(json!({
            "b": {"status": {"connector": {"state": "RUNNING", "worker_id": "w1"}, "type": "sink",
                             "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "w2"},
                                       {"id": 1, "state": "FAILED", "worker_id": "w1"}]},
                  "info": {"type": "sink", "config": {}}},
            "a": {"status": {"connector": {"state": "STOPPED", "worker_id": "w1"}, "type": "sink", "tasks": []}}
        }))
        .unwrap();
        assert_eq!(
            connectors_table(&connectors),
            "NAME  TYPE  STATE    TASKS  WORKERS\na     sink  STOPPED  0/0    w1\nb     sink  RUNNING  1/2    w1,w2\n"
        );
    }

    #[test]
    fn the_restart_summary_names_the_restarting_instances() {
        let status = json!({"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "RESTARTING"}]});
        assert_eq!(restart_summary("a", &status), "connector a: restarting task 1");
        let status = json!({"connector": {"state": "RUNNING"}, "tasks": []});
        assert!(restart_summary("a", &status).contains("nothing to restart"));
    }

    #[test]
    fn offsets_files_are_wrapped_or_refused() {
        let list = "- partition: {kafka_topic: t, kafka_partition: 0}\n  offset: {kafka_offset: 5}\n";
        assert_eq!(offsets_body(list).unwrap()["offsets"][0]["offset"]["kafka_offset"], 5);
        assert!(offsets_body(r#"{"offsets": []}"#).is_ok());
        assert!(offsets_body(r#"{"partition": 1}"#).unwrap_err().contains("expected"));
    }
}
