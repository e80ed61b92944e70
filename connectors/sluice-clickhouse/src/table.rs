//! What a target table looks like: [`ClickhouseTable`], read from `system.columns` (which
//! ClickHouse 18.16 already has), with each column's parsed type and default kind.
//!
//! `MATERIALIZED` and `ALIAS` columns are computed by ClickHouse and never inserted. Columns
//! with a `DEFAULT` (or none) are insertable; which of them an insert names depends on the
//! fields each record carries (see `rows`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sluice_api::{ConnectError, Result};

use crate::service::ClickhouseService;
use crate::types::{ClickhouseType, TypeParseError};

/// How a column gets a value when an insert does not name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultKind {
    /// No default expression: the type's default (0, '', NULL) is used.
    None,
    /// `DEFAULT expr`: evaluated when the column is omitted.
    Default,
    /// `MATERIALIZED expr`: always computed; cannot be inserted.
    Materialized,
    /// `ALIAS expr`: not stored; cannot be inserted.
    Alias,
    /// `EPHEMERAL` (newer servers): insert-only input for other defaults.
    Ephemeral,
}

impl DefaultKind {
    /// From `system.columns.default_kind`.
    pub fn parse(kind: &str) -> Self {
        match kind {
            "DEFAULT" => DefaultKind::Default,
            "MATERIALIZED" => DefaultKind::Materialized,
            "ALIAS" => DefaultKind::Alias,
            "EPHEMERAL" => DefaultKind::Ephemeral,
            _ => DefaultKind::None,
        }
    }
}

/// One insertable column.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickhouseColumn {
    /// The column name, matched exactly (case-sensitive) against record field names.
    pub name: String,
    /// The parsed type, or why Sluice cannot write this column (it can still be left out).
    pub ty: std::result::Result<ClickhouseType, TypeParseError>,
    /// How ClickHouse fills the column when an insert omits it.
    pub default_kind: DefaultKind,
}

impl ClickhouseColumn {
    /// Whether the column has an expression ClickHouse evaluates when it is omitted.
    pub fn has_default(&self) -> bool {
        matches!(self.default_kind, DefaultKind::Default | DefaultKind::Ephemeral)
    }

    /// Whether `NULL` can be written.
    pub fn is_nullable(&self) -> bool {
        self.ty.as_ref().is_ok_and(ClickhouseType::is_nullable)
    }
}

/// A described table: its insertable columns.
#[derive(Debug, Clone)]
pub struct ClickhouseTable {
    /// The database, as configured.
    pub database: String,
    /// The table name.
    pub name: String,
    /// Insertable columns (not `MATERIALIZED` or `ALIAS`), in the server's order.
    pub columns: Vec<ClickhouseColumn>,
    /// Column name → index in `columns`.
    by_name: HashMap<String, usize>,
    /// When the description was read, for `tableRefreshInterval`.
    described_at: Instant,
}

impl ClickhouseTable {
    /// Reads the table's columns; a table that does not exist is a fatal error saying what
    /// to do.
    pub async fn describe(service: &ClickhouseService, database: &str, table: &str) -> Result<Self> {
        Self::describe_if_exists(service, database, table).await?.ok_or_else(|| {
            ConnectError::fatal(format!(
                "Table {} does not exist on {}. Create it first, set auto.create=true to let Sluice create it from the records, or map the topic to an existing table with `topic2TableMap`.",
                quote_qualified(database, table),
                service.url()
            ))
        })
    }

    /// Reads the table's columns; `None` when the table does not exist (it has no columns).
    pub async fn describe_if_exists(service: &ClickhouseService, database: &str, table: &str) -> Result<Option<Self>> {
        let context = format!("Describing table {}", quote_qualified(database, table));
        let rows = service
            .select_json(
                &context,
                "SELECT name, type, default_kind FROM system.columns WHERE database = ? AND table = ?",
                &[database, table],
            )
            .await?;
        let text = |row: &serde_json::Map<String, serde_json::Value>, key: &str| {
            row.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
        };
        let columns = rows
            .iter()
            .map(|row| (text(row, "name"), text(row, "type"), text(row, "default_kind")))
            .collect::<Vec<_>>();
        if columns.is_empty() {
            return Ok(None);
        }
        let described = Self::from_columns(database, table, columns);
        for column in &described.columns {
            if let Err(e) = &column.ty {
                tracing::warn!(
                    table = %described.qualified_name(),
                    column = %column.name,
                    error = %e,
                    "Column cannot be written by Sluice; records must leave it out."
                );
            }
        }
        tracing::info!(
            table = %described.qualified_name(),
            columns = described.columns.len(),
            "Described ClickHouse table."
        );
        Ok(Some(described))
    }

    /// A table from `(name, type, default_kind)` rows as `system.columns` lists them.
    pub fn from_columns(database: &str, table: &str, rows: impl IntoIterator<Item = (String, String, String)>) -> Self {
        let columns: Vec<ClickhouseColumn> = rows
            .into_iter()
            .map(|(name, ty, kind)| ClickhouseColumn {
                name,
                ty: ClickhouseType::parse(&ty),
                default_kind: DefaultKind::parse(&kind),
            })
            .filter(|c| !matches!(c.default_kind, DefaultKind::Materialized | DefaultKind::Alias))
            .collect();
        let by_name = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        ClickhouseTable {
            database: database.to_owned(),
            name: table.to_owned(),
            columns,
            by_name,
            described_at: Instant::now(),
        }
    }

    /// Index in `columns` of the insertable column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// `` `db`.`table` ``.
    pub fn qualified_name(&self) -> String {
        quote_qualified(&self.database, &self.name)
    }

    /// Whether the description is older than `refresh` (never, when `None`).
    pub fn is_stale(&self, refresh: Option<Duration>) -> bool {
        refresh.is_some_and(|r| self.described_at.elapsed() >= r)
    }

    /// `INSERT INTO `db`.`t` (`c1`,`c2`) FORMAT RowBinary` for the given column indexes.
    pub fn insert_sql(&self, columns: impl IntoIterator<Item = usize>) -> String {
        let names: Vec<String> = columns.into_iter().map(|i| quote_ident(&self.columns[i].name)).collect();
        format!("INSERT INTO {} ({}) FORMAT RowBinary", self.qualified_name(), names.join(","))
    }
}

/// A backquoted identifier, with backquotes and backslashes escaped.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// `` `db`.`table` ``.
pub fn quote_qualified(database: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(database), quote_ident(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cols: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        cols.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
    }

    #[test]
    fn materialized_and_alias_columns_are_never_inserted() {
        let t = ClickhouseTable::from_columns(
            "default",
            "events",
            rows(&[
                ("user_id", "String", ""),
                ("inserted_at", "DateTime", "DEFAULT"),
                ("day", "Date", "MATERIALIZED"),
                ("uid", "String", "ALIAS"),
                ("blob", "AggregateFunction(uniq, UInt64)", ""),
            ]),
        );
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["user_id", "inserted_at", "blob"]);
        assert!(t.columns[1].has_default());
        assert!(t.columns[2].ty.is_err());
        assert_eq!(t.column_index("day"), None);
        assert_eq!(t.insert_sql([0, 1]), "INSERT INTO `default`.`events` (`user_id`,`inserted_at`) FORMAT RowBinary");
    }

    #[test]
    fn identifiers_are_escaped() {
        assert_eq!(quote_ident("we`ird\\name"), "`we\\`ird\\\\name`");
    }

    #[test]
    fn staleness_follows_the_refresh_interval() {
        let t = ClickhouseTable::from_columns("d", "t", rows(&[("a", "String", "")]));
        assert!(!t.is_stale(None));
        assert!(t.is_stale(Some(Duration::ZERO)));
        assert!(!t.is_stale(Some(Duration::from_secs(3600))));
    }
}
