//! `sluice ctl describe connector NAME`: config (secrets hidden), each task's state, worker and
//! trace, consumed topics, committed offsets, and the lag per partition when the worker exposes
//! Sluice's `sluice_consumer_lag` metric (a JVM runtime has it in JMX only: left out).

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::client::ConnectClient;
use super::output::{self, hide_secrets, text, Format, Table};
use super::CtlError;

/// Everything `describe` shows; `-o json|yaml` prints it as it is.
#[derive(Debug, Serialize)]
pub struct Description {
    pub name: String,
    pub info: Value,
    pub status: Value,
    /// Topics consumed since the last reset; `None` when the worker does not track them.
    pub topics: Option<Vec<String>>,
    /// `GET /connectors/{c}/offsets`; `None` when the runtime has no such route.
    pub offsets: Option<Value>,
    /// Per (topic, partition), from `/metrics`; empty when not available.
    pub lag: Vec<Lag>,
}

/// One partition's consumer lag.
#[derive(Debug, Serialize, PartialEq)]
pub struct Lag {
    pub topic: String,
    pub partition: u32,
    pub lag: i64,
}

pub async fn describe(client: &ConnectClient, name: &str, format: Format) -> Result<(), CtlError> {
    let mut info: Value = client.get(&["connectors", name], &[]).await?.json("the connector")?;
    if let Some(config) = info.get_mut("config") {
        hide_secrets(config);
    }
    let status: Value = client.get(&["connectors", name, "status"], &[]).await?.json("the connector's status")?;
    // Older runtimes, or topic tracking turned off, answer these with an error: not worth
    // failing the whole description over.
    let topics = match client.get(&["connectors", name, "topics"], &[]).await {
        Ok(answer) => answer.json::<Value>("the active topics").ok().map(|v| {
            let list = v.pointer(&format!("/{}/topics", name.replace('~', "~0").replace('/', "~1")));
            list.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        }),
        Err(_) => None,
    };
    let offsets = client.get(&["connectors", name, "offsets"], &[]).await.ok().and_then(|a| a.json("offsets").ok());
    let lag = match client.get(&["metrics"], &[]).await {
        Ok(answer) => lag_of(&answer.body, name),
        Err(_) => Vec::new(),
    };
    let description = Description { name: name.to_owned(), info, status, topics, offsets, lag };
    match format {
        Format::Table => print!("{}", render(&description)),
        other => print!("{}", output::data(&description, other)?),
    }
    Ok(())
}

/// The connector's `sluice_consumer_lag` samples, summed over tasks per partition (a partition
/// moving between tasks may briefly show under both).
pub fn lag_of(metrics: &str, connector: &str) -> Vec<Lag> {
    let mut lags: Vec<Lag> = Vec::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("sluice_consumer_lag{") else { continue };
        let Some((labels, value)) = rest.split_once("} ") else { continue };
        let labels = parse_labels(labels);
        let label = |k: &str| labels.iter().find(|(name, _)| name == k).map(|(_, v)| v.as_str());
        if label("connector") != Some(connector) {
            continue;
        }
        let (Some(topic), Some(partition), Ok(lag)) = (
            label("topic"),
            label("partition").and_then(|p| p.parse().ok()),
            value.split_whitespace().next().unwrap_or("").parse::<f64>(),
        ) else {
            continue;
        };
        match lags.iter_mut().find(|l| l.topic == topic && l.partition == partition) {
            Some(existing) => existing.lag = existing.lag.max(lag as i64),
            None => lags.push(Lag { topic: topic.to_owned(), partition, lag: lag as i64 }),
        }
    }
    lags.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    lags
}

/// `a="x",b="y\"z"` → pairs, undoing the exposition format's escapes.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() || chars.next() != Some('"') {
            return pairs;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        pairs.push((name.trim_start_matches(',').trim().to_owned(), value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

fn render(d: &Description) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Name:    {}", d.name);
    let _ = writeln!(out, "Type:    {}", text(&d.info, "/type"));
    let _ = writeln!(out, "Class:   {}", text(&d.info, "/config/connector.class"));
    let state = text(&d.status, "/connector/state");
    let _ = writeln!(out, "State:   {state} on {}", text(&d.status, "/connector/worker_id"));
    if let Some(trace) = d.status.pointer("/connector/trace").and_then(Value::as_str) {
        let _ = writeln!(out, "Trace:   {}", indent(trace));
    }
    out.push_str("\nConfig:\n");
    if let Some(config) = d.info.get("config").and_then(Value::as_object) {
        let mut table = Table::new(&["  KEY", "VALUE"]);
        for (k, v) in config {
            table.row(vec![format!("  {k}"), output::scalar_text(v).unwrap_or_else(|| v.to_string())]);
        }
        out.push_str(&skip_header(&table.render()));
    }
    out.push_str("\nTasks:\n");
    let tasks = d.status.get("tasks").and_then(Value::as_array).cloned().unwrap_or_default();
    if tasks.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let mut table = Table::new(&["  ID", "STATE", "WORKER"]);
        for t in &tasks {
            let id = t.get("id").map(|v| v.to_string()).unwrap_or_default();
            table.row(vec![format!("  {id}"), text(t, "/state").to_owned(), text(t, "/worker_id").to_owned()]);
        }
        out.push_str(&table.render());
        for t in &tasks {
            if let Some(trace) = t.get("trace").and_then(Value::as_str) {
                let id = t.get("id").map(|v| v.to_string()).unwrap_or_default();
                let _ = writeln!(out, "  task {id} trace: {}", indent(trace));
            }
        }
    }
    if let Some(topics) = &d.topics {
        let shown = if topics.is_empty() { "(none yet)".to_owned() } else { topics.join(", ") };
        let _ = writeln!(out, "\nTopics:  {shown}");
    }
    if let Some(offsets) = &d.offsets {
        out.push_str("\nOffsets:\n");
        out.push_str(&offsets_table(offsets, &d.lag, "  "));
    }
    out
}

/// Committed offsets, with the lag column when there are lag figures.
pub fn offsets_table(offsets: &Value, lag: &[Lag], margin: &str) -> String {
    let entries = offsets.get("offsets").and_then(Value::as_array).cloned().unwrap_or_default();
    if entries.is_empty() {
        return format!("{margin}(no committed offsets)\n");
    }
    let header: &[&'static str] =
        if lag.is_empty() { &["TOPIC", "PARTITION", "OFFSET"] } else { &["TOPIC", "PARTITION", "OFFSET", "LAG"] };
    let mut table = Table::new(header);
    for e in &entries {
        let topic = text(e, "/partition/kafka_topic").to_owned();
        let partition = e.pointer("/partition/kafka_partition").and_then(Value::as_u64);
        let offset = e.pointer("/offset/kafka_offset").map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        let mut row = vec![topic.clone(), partition.map(|p| p.to_string()).unwrap_or_default(), offset];
        if !lag.is_empty() {
            let found = lag.iter().find(|l| l.topic == topic && Some(u64::from(l.partition)) == partition);
            row.push(found.map_or_else(|| "-".to_owned(), |l| l.lag.to_string()));
        }
        table.row(row);
    }
    table.render().lines().map(|l| format!("{margin}{l}\n")).collect()
}

fn skip_header(rendered: &str) -> String {
    rendered.lines().skip(1).map(|l| format!("{l}\n")).collect()
}

/// A multi-line trace, its continuation lines indented under the label.
fn indent(trace: &str) -> String {
    trace.trim_end().replace('\n', "\n           ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const METRICS: &str = "# TYPE sluice_consumer_lag gauge\n\
        sluice_consumer_lag{connector=\"a\",task=\"0\",topic=\"t\",partition=\"1\"} 5\n\
        sluice_consumer_lag{connector=\"a\",task=\"1\",topic=\"t\",partition=\"0\"} 7\n\
        sluice_consumer_lag{connector=\"b\",task=\"0\",topic=\"t\",partition=\"0\"} 9\n\
        sluice_consumer_lag_other{connector=\"a\"} 1\n# EOF\n";

    #[test]
    fn lag_is_read_for_one_connector() {
        assert_eq!(
            lag_of(METRICS, "a"),
            [Lag { topic: "t".into(), partition: 0, lag: 7 }, Lag { topic: "t".into(), partition: 1, lag: 5 }]
        );
        assert!(lag_of("", "a").is_empty());
    }

    #[test]
    fn labels_undo_escapes() {
        assert_eq!(parse_labels(r#"a="x\"y",b="z""#), [("a".into(), "x\"y".into()), ("b".into(), "z".into())]);
    }

    #[test]
    fn offsets_show_lag_when_known() {
        let offsets = json!({"offsets": [{"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": 12}}]});
        let table = offsets_table(&offsets, &lag_of(METRICS, "a"), "");
        assert_eq!(table, "TOPIC  PARTITION  OFFSET  LAG\nt      0          12      7\n");
        assert_eq!(offsets_table(&json!({"offsets": []}), &[], ""), "(no committed offsets)\n");
    }
}
