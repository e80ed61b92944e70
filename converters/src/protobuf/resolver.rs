//! Compiling a registered `.proto` text into a descriptor pool.
//!
//! Imports are served, in this order, from the schema's registry references (by the name they
//! are imported with), from the dependencies Confluent's registry knows without references
//! (`confluent/meta.proto`, `confluent/type/decimal.proto` and the common `google/type/*.proto`
//! files, bundled below), and from Google's well-known types that protox ships.

use prost_reflect::prost_types;
use prost_reflect::DescriptorPool;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use sluice_api::{ConnectError, Result};

use crate::registry::FetchedSchema;

/// The file name the registered schema text is compiled under (registered schemas have none of
/// their own; this one is unlikely to be imported by anything).
pub(super) const ROOT_FILE: &str = "__sluice_registered_schema__.proto";

/// Files Confluent's registry resolves without registered references, as Confluent defines
/// them (same packages, messages and field numbers; comments left out).
const KNOWN_DEPENDENCIES: &[(&str, &str)] = &[
    (
        "confluent/meta.proto",
        r#"syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
  repeated Rule rules = 4;
}
message Rule {
  string name = 1;
  string doc = 2;
  string expr = 3;
  string sql = 4;
}
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
"#,
    ),
    (
        "confluent/type/decimal.proto",
        r#"syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
"#,
    ),
    (
        "google/type/date.proto",
        r#"syntax = "proto3";
package google.type;
message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
"#,
    ),
    (
        "google/type/timeofday.proto",
        r#"syntax = "proto3";
package google.type;
message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
"#,
    ),
    (
        "google/type/decimal.proto",
        r#"syntax = "proto3";
package google.type;
message Decimal {
  string value = 1;
}
"#,
    ),
    (
        "google/type/dayofweek.proto",
        r#"syntax = "proto3";
package google.type;
enum DayOfWeek {
  DAY_OF_WEEK_UNSPECIFIED = 0;
  MONDAY = 1;
  TUESDAY = 2;
  WEDNESDAY = 3;
  THURSDAY = 4;
  FRIDAY = 5;
  SATURDAY = 6;
  SUNDAY = 7;
}
"#,
    ),
    (
        "google/type/month.proto",
        r#"syntax = "proto3";
package google.type;
enum Month {
  MONTH_UNSPECIFIED = 0;
  JANUARY = 1;
  FEBRUARY = 2;
  MARCH = 3;
  APRIL = 4;
  MAY = 5;
  JUNE = 6;
  JULY = 7;
  AUGUST = 8;
  SEPTEMBER = 9;
  OCTOBER = 10;
  NOVEMBER = 11;
  DECEMBER = 12;
}
"#,
    ),
    (
        "google/type/latlng.proto",
        r#"syntax = "proto3";
package google.type;
message LatLng {
  double latitude = 1;
  double longitude = 2;
}
"#,
    ),
    (
        "google/type/money.proto",
        r#"syntax = "proto3";
package google.type;
message Money {
  string currency_code = 1;
  int64 units = 2;
  int32 nanos = 3;
}
"#,
    ),
];

/// Serves the registered text and its references by name.
struct RegisteredFiles {
    files: Vec<(String, String)>,
}

impl FileResolver for RegisteredFiles {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.files.iter().find(|(n, _)| n == name) {
            Some((name, text)) => match serialized_descriptor(text) {
                Some(mut descriptor) => {
                    descriptor.name = Some(name.clone());
                    Ok(File::from_file_descriptor_proto(descriptor))
                }
                None => File::from_source(name, text),
            },
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// A schema registered as a base64-encoded `FileDescriptorProto` instead of `.proto` text.
/// Confluent's Python and Go serializers register Protobuf schemas this way, and registries
/// that do not render them back to text (Apicurio's Confluent API) hand them out as they are.
fn serialized_descriptor(text: &str) -> Option<prost_types::FileDescriptorProto> {
    use base64::Engine as _;
    use prost_reflect::prost::Message as _;
    let text = text.trim();
    if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '{' || c == ';') {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// Serves [`KNOWN_DEPENDENCIES`].
struct KnownDependencies;

impl FileResolver for KnownDependencies {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match KNOWN_DEPENDENCIES.iter().find(|(n, _)| *n == name) {
            Some((name, text)) => File::from_source(name, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Compiles `schema` (its text under [`ROOT_FILE`], its references by import name).
pub(super) fn compile(schema: &FetchedSchema) -> Result<DescriptorPool> {
    let mut files = Vec::with_capacity(schema.references.len() + 1);
    files.push((ROOT_FILE.to_owned(), schema.text.clone()));
    files.extend(schema.references.iter().cloned());
    let mut resolver = ChainFileResolver::new();
    resolver.add(RegisteredFiles { files });
    resolver.add(KnownDependencies);
    resolver.add(GoogleFileResolver::new());
    // The text comes from outside; a compiler bug on odd input must fail this schema, not the task.
    let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true).include_source_info(false);
        compiler.open_file(ROOT_FILE).map(|c| c.descriptor_pool())
    }));
    match compiled {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(ConnectError::data(format!("The Protobuf schema does not compile: {}", describe(&e)))),
        Err(_) => Err(ConnectError::data("The Protobuf schema could not be compiled (the compiler failed on it).")),
    }
}

/// protox's message plus the file it is about, when that is not the registered text itself.
fn describe(e: &protox::Error) -> String {
    match e.file() {
        Some(file) if file != ROOT_FILE => format!("{e} (in {file})"),
        _ => e.to_string(),
    }
}
