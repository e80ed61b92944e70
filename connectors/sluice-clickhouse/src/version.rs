//! Which ClickHouse the sink talks to: [`ServerVersion`], parsed from `SELECT version()`, and
//! [`Feature`], the one table of what appeared in which release. DDL (see `ddl`) asks the
//! version by feature name (`has_date32()`), never by number.
//!
//! Where a version comes from is written next to it. "Refused by 18.16" was seen against the
//! real 18.16.1 server with the error code quoted.

use std::fmt;
use std::str::FromStr;

use sluice_api::{ConnectError, Result};

use crate::service::ClickhouseService;

/// A ClickHouse release, `major.minor.patch.build`; missing parts count as 0.
///
/// Ordered by number, so `18.16.1 < 19.3 < 21.12 < 26.9.2.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// `18` in `18.16.1`; since 2018 the year of the release.
    pub major: u32,
    /// `16` in `18.16.1`; since 2019 the month of the release.
    pub minor: u32,
    /// `1` in `18.16.1`: the patch release.
    pub patch: u32,
    /// `13` in `24.8.4.13`: the build number (absent on old servers).
    pub build: u32,
}

/// Text that is not a ClickHouse version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionParseError {
    /// The text as received.
    pub text: String,
}

impl fmt::Display for VersionParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a ClickHouse version such as 24.8.4.13", self.text)
    }
}

impl std::error::Error for VersionParseError {}

/// Something the sink's DDL uses that not every ClickHouse has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `LowCardinality(T)` without `allow_experimental_low_cardinality_type`.
    LowCardinality,
    /// `DateTime64(precision)`.
    DateTime64,
    /// `ALTER TABLE … ADD COLUMN IF NOT EXISTS`.
    AddColumnIfNotExists,
    /// `Decimal(P, S)` with `P` up to 76 (`Decimal256`) without a setting.
    Decimal256,
    /// `Map(K, V)` columns without `allow_experimental_map_type`.
    MapType,
    /// `Date32`: days as `Int32`, 1900-01-01 to 2299-12-31.
    Date32,
    /// `Tuple(a T, b U)` whose elements queries can address by name (`t.a`).
    NamedTuple,
    /// `Bool`.
    BoolType,
    /// The `insert_deduplication_token` insert setting.
    InsertDeduplicationToken,
}

impl Feature {
    /// Every feature, oldest first.
    pub const ALL: [Feature; 9] = [
        Feature::LowCardinality,
        Feature::DateTime64,
        Feature::AddColumnIfNotExists,
        Feature::Decimal256,
        Feature::MapType,
        Feature::Date32,
        Feature::NamedTuple,
        Feature::BoolType,
        Feature::InsertDeduplicationToken,
    ];

    /// The first release with the feature.
    pub const fn since(self) -> ServerVersion {
        match self {
            // Changelog 19.3.3: "Removed `allow_experimental_low_cardinality_type` setting.
            // `LowCardinality` data types are production ready" (#4323). Refused by 18.16
            // without the setting: code 44.
            Feature::LowCardinality => ServerVersion::new(19, 3),
            // Changelog 20.1: "Add `DateTime64` datatype with configurable sub-second
            // precision" (#7170). Refused by 18.16: code 50, unknown data type family.
            Feature::DateTime64 => ServerVersion::new(20, 1),
            // Unsure of the first release: the clause is documented for 20.10 (the version
            // used here) and may be older. Refused by 18.16: code 62, syntax error. Older
            // servers take the path that tolerates "column already exists", which works on
            // every version.
            Feature::AddColumnIfNotExists => ServerVersion::new(20, 10),
            // Changelog 21.6: "Make big integers production ready … Fix known issues with the
            // `Decimal256` data type" (#23631); 21.5 still calls `Decimal256` experimental.
            // Refused by 18.16 (`Decimal(76, 4)`): code 69, wrong precision.
            Feature::Decimal256 => ServerVersion::new(21, 6),
            // Unsure: the changelog line that lifted `allow_experimental_map_type` was not
            // found. 21.8 moved the system log tables to `Map` (changelog 21.8, upgrade
            // notes), and two client test suites (clickhouse-driver, ClickHouse.Client) use
            // `Map` without the setting from 21.4; 21.8 is on the safe side. Refused by 18.16:
            // code 50.
            Feature::MapType => ServerVersion::new(21, 8),
            // Changelog 21.9: "Add a new datatype `Date32` (store data as Int32)" (#25774).
            // Refused by 18.16: code 50.
            Feature::Date32 => ServerVersion::new(21, 9),
            // Unsure of the first release: addressing named tuple elements (`a.s`) is
            // documented for 21.9 (the version used here). 18.16 accepts the type
            // `Tuple(a String, b Int32)` but refuses `x.a` (code 47, unknown identifier).
            Feature::NamedTuple => ServerVersion::new(21, 9),
            // Changelog 21.12: "Support for `Bool` data type" (#31072). Refused by 18.16:
            // code 50.
            Feature::BoolType => ServerVersion::new(21, 12),
            // Unsure: taken from clickhouse-kb.com ("custom dedup key (from v.22.2)"), not
            // from the changelog itself.
            Feature::InsertDeduplicationToken => ServerVersion::new(22, 2),
        }
    }
}

impl ServerVersion {
    /// `major.minor` (patch and build 0).
    pub const fn new(major: u32, minor: u32) -> Self {
        ServerVersion { major, minor, patch: 0, build: 0 }
    }

    /// Parses `SELECT version()` text: `18.16.1`, `24.8.4.13`, `26.9.2.1`. Text after the
    /// numbers (`22.8.15.25.altinitystable`, `23.3.1.2823-lts`) is ignored.
    pub fn parse(text: &str) -> std::result::Result<Self, VersionParseError> {
        let mut numbers = Vec::with_capacity(4);
        for part in text.trim().split('.').take(4) {
            let digits = &part[..part.bytes().take_while(u8::is_ascii_digit).count()];
            let Ok(n) = digits.parse::<u32>() else { break };
            numbers.push(n);
        }
        if numbers.len() < 2 {
            return Err(VersionParseError { text: text.to_owned() });
        }
        numbers.resize(4, 0);
        Ok(ServerVersion { major: numbers[0], minor: numbers[1], patch: numbers[2], build: numbers[3] })
    }

    /// Asks the server (`SELECT version()`).
    pub async fn of(service: &ClickhouseService) -> Result<Self> {
        let text = service.server_version().await?;
        Self::parse(&text).map_err(|e| {
            ConnectError::fatal(format!(
                "ClickHouse at {} answered `SELECT version()` with text Sluice cannot read: {e}.",
                service.url()
            ))
        })
    }

    /// Whether this server has `feature`.
    pub fn supports(&self, feature: Feature) -> bool {
        *self >= feature.since()
    }

    /// `LowCardinality(String)` can be created without a setting.
    pub fn has_low_cardinality(&self) -> bool {
        self.supports(Feature::LowCardinality)
    }

    /// `DateTime64(3)` exists.
    pub fn has_datetime64(&self) -> bool {
        self.supports(Feature::DateTime64)
    }

    /// `ADD COLUMN IF NOT EXISTS` is understood.
    pub fn has_add_column_if_not_exists(&self) -> bool {
        self.supports(Feature::AddColumnIfNotExists)
    }

    /// `Decimal(P, S)` may have `P` up to 76 rather than 38.
    pub fn has_decimal256(&self) -> bool {
        self.supports(Feature::Decimal256)
    }

    /// `Map(K, V)` columns can be created without a setting.
    pub fn has_map_type(&self) -> bool {
        self.supports(Feature::MapType)
    }

    /// `Date32` exists.
    pub fn has_date32(&self) -> bool {
        self.supports(Feature::Date32)
    }

    /// Named tuple elements can be queried by name.
    pub fn has_named_tuple(&self) -> bool {
        self.supports(Feature::NamedTuple)
    }

    /// `Bool` exists.
    pub fn has_bool_type(&self) -> bool {
        self.supports(Feature::BoolType)
    }

    /// Inserts accept `insert_deduplication_token`.
    pub fn has_insert_deduplication_token(&self) -> bool {
        self.supports(Feature::InsertDeduplicationToken)
    }
}

impl FromStr for ServerVersion {
    type Err = VersionParseError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if self.build > 0 {
            write!(f, ".{}", self.build)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ServerVersion {
        ServerVersion::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_what_servers_answer() {
        assert_eq!(v("18.16.1"), ServerVersion { major: 18, minor: 16, patch: 1, build: 0 });
        assert_eq!(v("26.9.2.1"), ServerVersion { major: 26, minor: 9, patch: 2, build: 1 });
        assert_eq!(v("24.8.4.13\n"), ServerVersion { major: 24, minor: 8, patch: 4, build: 13 });
        assert_eq!(v("22.8.15.25.altinitystable"), ServerVersion { major: 22, minor: 8, patch: 15, build: 25 });
        assert_eq!(v("23.3.1.2823-lts"), ServerVersion { major: 23, minor: 3, patch: 1, build: 2823 });
        assert_eq!(v("21.12"), ServerVersion::new(21, 12));
        assert_eq!("24.8.4.13".parse::<ServerVersion>(), Ok(v("24.8.4.13")));
    }

    #[test]
    fn rejects_text_that_is_not_a_version() {
        for bad in ["", "18", "x.y", "v24.8", "Code: 516. DB::Exception"] {
            let e = ServerVersion::parse(bad).unwrap_err();
            assert!(e.to_string().contains("is not a ClickHouse version"), "{bad}: {e}");
        }
    }

    #[test]
    fn orders_by_number_not_text() {
        assert!(v("18.16.1") < v("19.3"));
        assert!(v("21.9") < v("21.12"));
        assert!(v("24.8.4.13") < v("24.8.14.1"));
        assert!(v("26.9.2.1") > v("26.9.2"));
        assert_eq!(v("21.12.0.0"), ServerVersion::new(21, 12));
    }

    #[test]
    fn displays_as_the_server_writes_it() {
        assert_eq!(v("18.16.1").to_string(), "18.16.1");
        assert_eq!(v("24.8.4.13").to_string(), "24.8.4.13");
    }

    #[test]
    fn the_oldest_supported_server_has_none_of_the_features() {
        let old = v("18.16.1");
        assert!(Feature::ALL.iter().all(|f| !old.supports(*f)), "18.16 refused every one of them");
        assert!(!old.has_low_cardinality());
        assert!(!old.has_add_column_if_not_exists());
    }

    #[test]
    fn a_current_server_has_all_of_them() {
        let new = v("26.9.2.1");
        assert!(Feature::ALL.iter().all(|f| new.supports(*f)));
        assert!(new.has_bool_type() && new.has_date32() && new.has_datetime64() && new.has_map_type());
        assert!(new.has_decimal256() && new.has_named_tuple() && new.has_insert_deduplication_token());
    }

    #[test]
    fn each_feature_starts_at_its_release() {
        for feature in Feature::ALL {
            let since = feature.since();
            assert!(ServerVersion { patch: 1, ..since }.supports(feature), "{feature:?}");
            let before = if since.minor > 0 {
                ServerVersion { minor: since.minor - 1, patch: 99, ..since }
            } else {
                ServerVersion { major: since.major - 1, minor: 99, ..since }
            };
            assert!(!before.supports(feature), "{feature:?} before {since}");
        }
        assert!(v("21.11.9").supports(Feature::Date32) && !v("21.11.9").has_bool_type());
        assert!(v("20.1.2.4").has_datetime64() && !v("19.17.6.36").has_datetime64());
        // The list is oldest first, so a reader sees the history in order.
        assert!(Feature::ALL.windows(2).all(|w| w[0].since() <= w[1].since()));
    }
}
