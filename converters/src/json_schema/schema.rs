//! JSON Schema documents → a Connect schema plus the plan [`super::value`] follows to convert
//! payloads. Built once per registered schema.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use sluice_api::schema::logical;
use sluice_api::{Schema, SchemaRef, SchemaType};

use super::value;

/// Name of the struct a `oneOf`/`anyOf` with several non-null branches becomes.
pub const ONE_OF_NAME: &str = "io.confluent.connect.json.OneOf";
/// Parameter marking a string schema that came from `enum`/`const` (value: empty, as Confluent).
pub const ENUM_PARAM: &str = "io.confluent.connect.json.Enum";
/// Stand-in for a `null` enum symbol in the per-symbol parameters.
const NULL_MARKER: &str = "<NULL>";

const CONNECT_TYPE: &str = "connect.type";
const CONNECT_INDEX: &str = "connect.index";
const CONNECT_VERSION: &str = "connect.version";
const CONNECT_PARAMETERS: &str = "connect.parameters";

/// How to read one JSON value, with the schema of the result.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub schema: SchemaRef,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    /// Base64 text (`connect.type: bytes`).
    Bytes,
    /// `enum` / `const`: a scalar, as text.
    Enum,
    /// Connect Decimal: base64 of the unscaled bytes, or a JSON number.
    Decimal {
        scale: u32,
    },
    /// Connect Date / Time / Timestamp written as integers (title `org.apache.kafka.connect.data.*`).
    Date,
    Time,
    Timestamp,
    /// `format: date` / `time` / `date-time` strings.
    DateText,
    TimeText,
    DateTimeText,
    Array(Box<Plan>),
    /// A JSON object with arbitrary keys (`additionalProperties`) → map with string keys.
    Map(Box<Plan>),
    /// Confluent's map with non-string keys: an array of `{"key": …, "value": …}` objects.
    MapEntries(Box<Plan>, Box<Plan>),
    Struct(Vec<(String, Plan)>),
    /// `oneOf` / `anyOf` with several non-null branches.
    Union(Vec<Plan>),
    /// A schema that says nothing about its values (`{}`, `true`, a bare `object`): the JSON text.
    Json,
    /// `type: null`: always null.
    Null,
}

/// A schema document: the registered one, or one it references.
struct Doc {
    /// The name it was referenced under (`None` for the registered schema itself).
    name: Option<String>,
    /// Its `$id`, if any.
    id: Option<String>,
    json: Json,
}

/// Parses the registered schema `text` (with `references`, as `(name, text)`) into a plan.
pub(super) fn build(text: &str, references: &[(String, String)], version: Option<i32>) -> Result<Plan, String> {
    let mut docs = Vec::with_capacity(references.len() + 1);
    let root: Json = serde_json::from_str(text).map_err(|e| format!("the schema is not valid JSON: {e}"))?;
    docs.push(Doc { name: None, id: id_of(&root), json: root });
    for (name, text) in references {
        let json: Json =
            serde_json::from_str(text).map_err(|e| format!("referenced schema {name:?} is not valid JSON: {e}"))?;
        docs.push(Doc { name: Some(name.clone()), id: id_of(&json), json });
    }
    let mut builder = Builder { docs: &docs, stack: Vec::new() };
    builder.plan(0, &docs[0].json, "#", version)
}

fn id_of(json: &Json) -> Option<String> {
    json.get("$id").or_else(|| json.get("id")).and_then(Json::as_str).map(str::to_owned)
}

struct Builder<'a> {
    docs: &'a [Doc],
    /// `$ref` targets being built (document, fragment), to catch recursion.
    stack: Vec<(usize, String)>,
}

/// The JSON types a `type` keyword names.
fn types_of(obj: &Map<String, Json>) -> Option<Vec<&str>> {
    match obj.get("type")? {
        Json::String(t) => Some(vec![t.as_str()]),
        Json::Array(ts) => Some(ts.iter().filter_map(Json::as_str).collect()),
        _ => None,
    }
}

fn is_null_schema(node: &Json) -> bool {
    node.as_object().and_then(types_of).is_some_and(|t| t == ["null"])
}

impl<'a> Builder<'a> {
    /// The plan of `node`, a schema in document `doc` at JSON pointer `at` (for messages).
    fn plan(&mut self, doc: usize, node: &'a Json, at: &str, version: Option<i32>) -> Result<Plan, String> {
        let obj = match node {
            Json::Bool(true) => return Ok(json_plan()),
            Json::Bool(false) => return Err(format!("{at}: the schema `false` accepts no value")),
            Json::Object(obj) => obj,
            other => return Err(format!("{at}: a schema must be an object or a boolean, not {other}")),
        };
        if let Some(reference) = obj.get("$ref") {
            let reference = reference.as_str().ok_or_else(|| format!("{at}: $ref must be a string"))?;
            let plan = self.follow(doc, reference, at, version)?;
            // Keywords next to `$ref` (allowed since 2019-09) may document or default it.
            return self.finish(plan, obj, at, None, false);
        }
        if let Some(branches) = obj.get("oneOf").or_else(|| obj.get("anyOf")) {
            return self.union(doc, obj, branches, at, version);
        }
        if let Some(parts) = obj.get("allOf") {
            let plan = self.all_of(doc, obj, parts, at, version)?;
            return self.finish(plan, obj, at, version, false);
        }
        let types = types_of(obj);
        let nullable = types.as_ref().is_some_and(|t| t.contains(&"null"))
            || obj.get("nullable").and_then(Json::as_bool) == Some(true);
        let mut types: Vec<&str> = types.unwrap_or_default().into_iter().filter(|t| *t != "null").collect();
        let has_enum = obj.contains_key("enum") || obj.contains_key("const");
        if has_enum && types.iter().all(|t| *t == "string") {
            let plan = enumeration(obj);
            return self.finish(plan, obj, at, version, nullable);
        }
        if types.is_empty() && types_of(obj).is_none() {
            // No `type`: infer it from the keywords present, as validators would apply them.
            if obj.contains_key("properties") || obj.contains_key("additionalProperties") {
                types.push("object");
            } else if obj.contains_key("items") || obj.contains_key("prefixItems") {
                types.push("array");
            }
        }
        let plan = match types.as_slice() {
            [] if types_of(obj).is_some() => {
                Plan { schema: Schema::new(SchemaType::String).optional().into_ref(), kind: Kind::Null }
            }
            [] => json_plan(),
            [single] => self.typed(doc, obj, single, at)?,
            several => {
                // `"type": ["string", "integer"]`: a union of the same keywords under each type.
                let mut branches = Vec::with_capacity(several.len());
                for (i, t) in several.iter().enumerate() {
                    let branch = self.typed(doc, obj, t, &format!("{at}/type/{i}"))?;
                    branches.push(optional(branch));
                }
                union_plan(branches)
            }
        };
        self.finish(plan, obj, at, version, nullable)
    }

    /// Applies the keywords every schema may carry: title (as name), version, description,
    /// `connect.parameters`, default, and nullability.
    fn finish(
        &mut self,
        plan: Plan,
        obj: &Map<String, Json>,
        at: &str,
        version: Option<i32>,
        nullable: bool,
    ) -> Result<Plan, String> {
        let mut schema = Schema::clone(&plan.schema);
        if schema.name.is_none() {
            schema.name = obj.get("title").and_then(Json::as_str).map(str::to_owned);
        }
        match obj.get(CONNECT_VERSION).and_then(Json::as_i64) {
            Some(v) => schema.version = i32::try_from(v).ok(),
            None if version.is_some() => schema.version = version,
            None => {}
        }
        if let Some(description) = obj.get("description").and_then(Json::as_str) {
            schema.doc = Some(description.to_owned());
        }
        if let Some(Json::Object(parameters)) = obj.get(CONNECT_PARAMETERS) {
            for (k, v) in parameters {
                let v = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                schema.parameters.insert(k.clone(), v);
            }
        }
        if nullable {
            schema.optional = true;
        }
        let mut plan = Plan { schema: schema.into_ref(), kind: plan.kind };
        if let Some(default) = obj.get("default").filter(|d| !d.is_null()) {
            let value = value::to_value(&plan, Some(default))
                .map_err(|e| format!("{at}: the default {default} does not fit the schema: {e}"))?;
            plan = with_schema(plan, |s| s.default = Some(value));
        }
        Ok(plan)
    }

    /// Follows a `$ref` from document `doc`.
    fn follow(&mut self, doc: usize, reference: &str, at: &str, version: Option<i32>) -> Result<Plan, String> {
        let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target_doc = if base.is_empty() { doc } else { self.find_doc(doc, base, at)? };
        let fragment = percent_decode(fragment);
        let key = (target_doc, fragment.clone());
        if self.stack.contains(&key) {
            return Err(format!(
                "{at}: $ref {reference:?} refers back to a schema that contains it; a Connect schema cannot be recursive"
            ));
        }
        let target = lookup(&self.docs[target_doc].json, &fragment)
            .ok_or_else(|| format!("{at}: $ref {reference:?} points to nothing"))?;
        let where_ = match &self.docs[target_doc].name {
            Some(name) => format!("{name}#{fragment}"),
            None => format!("#{fragment}"),
        };
        self.stack.push(key);
        let plan = self.plan(target_doc, target, &where_, version);
        self.stack.pop();
        plan
    }

    /// The document a `$ref` base (`other.json`, `https://…/other.json`) names.
    fn find_doc(&self, from: usize, base: &str, at: &str) -> Result<usize, String> {
        let resolved = self.docs[from].id.as_deref().and_then(|id| join_url(id, base));
        let matches = |candidate: &str| candidate == base || resolved.as_deref() == Some(candidate);
        if let Some(i) = self.docs.iter().position(|d| d.name.as_deref().is_some_and(matches)) {
            return Ok(i);
        }
        if let Some(i) = self.docs.iter().position(|d| d.id.as_deref().is_some_and(matches)) {
            return Ok(i);
        }
        // Last resort: the same file name (`schemas/address.json` vs `address.json`).
        let file = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
        let wanted = file(base);
        self.docs
            .iter()
            .position(|d| {
                d.name.as_deref().map(file).as_ref() == Some(&wanted)
                    || d.id.as_deref().map(file).as_ref() == Some(&wanted)
            })
            .ok_or_else(|| format!("{at}: $ref to {base:?}, which is neither this schema nor one of its references"))
    }

    fn union(
        &mut self,
        doc: usize,
        obj: &'a Map<String, Json>,
        branches: &'a Json,
        at: &str,
        version: Option<i32>,
    ) -> Result<Plan, String> {
        let keyword = if obj.contains_key("oneOf") { "oneOf" } else { "anyOf" };
        let branches = branches.as_array().ok_or_else(|| format!("{at}: {keyword} must be an array"))?;
        let mut nullable = false;
        let mut plans = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            let resolved = self.resolve_shallow(doc, branch);
            if is_null_schema(resolved) {
                nullable = true;
                continue;
            }
            plans.push(self.plan(doc, branch, &format!("{at}/{keyword}/{i}"), None)?);
        }
        let plan = match plans.len() {
            0 => Plan { schema: Schema::new(SchemaType::String).optional().into_ref(), kind: Kind::Null },
            1 => plans.pop().unwrap_or_else(json_plan),
            _ => union_plan(plans.into_iter().map(optional).collect()),
        };
        self.finish(plan, obj, at, version, nullable)
    }

    /// `branch` itself, or what its `$ref` points to (one level), for classifying it.
    fn resolve_shallow(&self, doc: usize, branch: &'a Json) -> &'a Json {
        let Some(reference) = branch.get("$ref").and_then(Json::as_str) else {
            return branch;
        };
        let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target_doc = if base.is_empty() { Some(doc) } else { self.find_doc(doc, base, "").ok() };
        target_doc.and_then(|d| lookup(&self.docs[d].json, &percent_decode(fragment))).unwrap_or(branch)
    }

    /// `allOf`: the merged properties of its object parts, or its one typed part.
    fn all_of(
        &mut self,
        doc: usize,
        obj: &'a Map<String, Json>,
        parts: &'a Json,
        at: &str,
        version: Option<i32>,
    ) -> Result<Plan, String> {
        let parts = parts.as_array().ok_or_else(|| format!("{at}: allOf must be an array"))?;
        let mut properties: Vec<(usize, &'a str, &'a Json)> = Vec::new();
        let mut required: Vec<&'a str> = Vec::new();
        // The node's own properties count too (`{"properties": …, "allOf": […]}`).
        self.collect_properties(doc, obj, &mut properties, &mut required, 0);
        for part in parts {
            let (part_doc, part) = self.deref(doc, part);
            if let Some(part) = part.as_object() {
                self.collect_properties(part_doc, part, &mut properties, &mut required, 0);
            }
        }
        if !properties.is_empty() {
            return self.structure(properties, &required, at);
        }
        let typed = parts.iter().enumerate().find(|(_, p)| {
            let (_, p) = self.deref(doc, p);
            p.as_object().is_some_and(|o| {
                ["type", "enum", "const", "oneOf", "anyOf", "allOf", "items"].iter().any(|k| o.contains_key(*k))
            })
        });
        match typed {
            Some((i, part)) => self.plan(doc, part, &format!("{at}/allOf/{i}"), version),
            None => Ok(json_plan()),
        }
    }

    /// Follows `$ref`s (without building) to the schema object they name.
    fn deref(&self, mut doc: usize, mut node: &'a Json) -> (usize, &'a Json) {
        for _ in 0..32 {
            let Some(reference) = node.get("$ref").and_then(Json::as_str) else {
                break;
            };
            let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
            let target_doc = if base.is_empty() { Some(doc) } else { self.find_doc(doc, base, "").ok() };
            match target_doc.and_then(|d| lookup(&self.docs[d].json, &percent_decode(fragment)).map(|n| (d, n))) {
                Some((d, n)) => (doc, node) = (d, n),
                None => break,
            }
        }
        (doc, node)
    }

    fn collect_properties(
        &self,
        doc: usize,
        obj: &'a Map<String, Json>,
        properties: &mut Vec<(usize, &'a str, &'a Json)>,
        required: &mut Vec<&'a str>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        if let Some(Json::Object(props)) = obj.get("properties") {
            for (name, schema) in props {
                properties.retain(|(_, n, _)| n != name);
                properties.push((doc, name.as_str(), schema));
            }
        }
        if let Some(Json::Array(names)) = obj.get("required") {
            required.extend(names.iter().filter_map(Json::as_str));
        }
        if let Some(Json::Array(parts)) = obj.get("allOf") {
            for part in parts {
                let (part_doc, part) = self.deref(doc, part);
                if let Some(part) = part.as_object() {
                    self.collect_properties(part_doc, part, properties, required, depth + 1);
                }
            }
        }
    }

    /// A struct from `(document, name, schema)` properties, ordered by `connect.index` where
    /// given, else in document order; properties not in `required` are optional.
    fn structure(
        &mut self,
        properties: Vec<(usize, &'a str, &'a Json)>,
        required: &[&str],
        at: &str,
    ) -> Result<Plan, String> {
        let mut ordered: Vec<(i64, usize, &'a str, &'a Json)> = properties
            .into_iter()
            .enumerate()
            .map(|(position, (doc, name, schema))| {
                let index = schema.get(CONNECT_INDEX).and_then(Json::as_i64).unwrap_or(position as i64);
                (index, doc, name, schema)
            })
            .collect();
        ordered.sort_by_key(|(index, ..)| *index);
        let mut fields = Vec::with_capacity(ordered.len());
        for (_, doc, name, schema) in ordered {
            let mut plan = self.plan(doc, schema, &format!("{at}/properties/{name}"), None)?;
            if !required.contains(&name) {
                plan = optional(plan);
            }
            fields.push((name.to_owned(), plan));
        }
        let schema = Schema::structure(fields.iter().map(|(name, plan)| (name.clone(), plan.schema.clone())));
        Ok(Plan { schema: schema.into_ref(), kind: Kind::Struct(fields) })
    }

    /// The plan for one JSON `type`.
    fn typed(&mut self, doc: usize, obj: &'a Map<String, Json>, json_type: &str, at: &str) -> Result<Plan, String> {
        let connect_type = obj.get(CONNECT_TYPE).and_then(Json::as_str);
        let title = obj.get("title").and_then(Json::as_str);
        let scale = || -> Result<u32, String> {
            match obj.get(CONNECT_PARAMETERS).and_then(|p| p.get(logical::DECIMAL_SCALE)) {
                None => Ok(0),
                Some(Json::String(s)) => s.parse().map_err(|_| format!("{at}: invalid decimal scale {s:?}")),
                Some(Json::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("{at}: invalid decimal scale {n}")),
                Some(other) => Err(format!("{at}: invalid decimal scale {other}")),
            }
        };
        let primitive = |t: SchemaType, kind: Kind| Ok(Plan { schema: Schema::new(t).into_ref(), kind });
        let logical_plan = |schema: Schema, kind: Kind| Ok(Plan { schema: schema.into_ref(), kind });
        match json_type {
            "boolean" => primitive(SchemaType::Boolean, Kind::Boolean),
            "integer" | "number" => {
                match title {
                    Some(logical::DECIMAL) => {
                        return logical_plan(Schema::decimal(scale()?), Kind::Decimal { scale: scale()? })
                    }
                    Some(logical::DATE) => return logical_plan(Schema::date(), Kind::Date),
                    Some(logical::TIME) => return logical_plan(Schema::time(), Kind::Time),
                    Some(logical::TIMESTAMP) => return logical_plan(Schema::timestamp(), Kind::Timestamp),
                    _ => {}
                }
                match connect_type {
                    Some("int8") => primitive(SchemaType::Int8, Kind::Int8),
                    Some("int16") => primitive(SchemaType::Int16, Kind::Int16),
                    Some("int32") => primitive(SchemaType::Int32, Kind::Int32),
                    Some("int64") => primitive(SchemaType::Int64, Kind::Int64),
                    Some("float32") => primitive(SchemaType::Float32, Kind::Float32),
                    Some("float64") => primitive(SchemaType::Float64, Kind::Float64),
                    Some("bytes") => logical_plan(Schema::decimal(scale()?), Kind::Decimal { scale: scale()? }),
                    Some(other) => Err(format!("{at}: unsupported connect.type {other:?} for a {json_type}")),
                    None if json_type == "integer" => primitive(SchemaType::Int64, Kind::Int64),
                    None => primitive(SchemaType::Float64, Kind::Float64),
                }
            }
            "string" => {
                if title == Some(logical::DECIMAL) {
                    return logical_plan(Schema::decimal(scale()?), Kind::Decimal { scale: scale()? });
                }
                if let Some(name @ (logical::DATE | logical::TIME | logical::TIMESTAMP)) = title {
                    return Err(format!("{at}: title {name} needs an integer schema, not a string"));
                }
                if connect_type == Some("bytes") {
                    return primitive(SchemaType::Bytes, Kind::Bytes);
                }
                match obj.get("format").and_then(Json::as_str) {
                    Some("date") => logical_plan(Schema::date(), Kind::DateText),
                    Some("time") => logical_plan(Schema::time(), Kind::TimeText),
                    Some("date-time") => logical_plan(Schema::timestamp(), Kind::DateTimeText),
                    _ => primitive(SchemaType::String, Kind::String),
                }
            }
            "array" => self.array(doc, obj, connect_type, at),
            "object" => self.object(doc, obj, connect_type, at),
            other => Err(format!("{at}: unknown JSON Schema type {other:?}")),
        }
    }

    fn array(
        &mut self,
        doc: usize,
        obj: &'a Map<String, Json>,
        connect_type: Option<&str>,
        at: &str,
    ) -> Result<Plan, String> {
        if obj.contains_key("prefixItems") || obj.get("items").is_some_and(Json::is_array) {
            // Tuples have no Connect equivalent: keep the JSON text.
            return Ok(json_plan());
        }
        let Some(items) = obj.get("items") else {
            let items = json_plan();
            return Ok(Plan {
                schema: Schema::array(items.schema.clone()).into_ref(),
                kind: Kind::Array(Box::new(items)),
            });
        };
        if connect_type == Some("map") {
            let (entry_doc, entry) = self.deref(doc, items);
            if let Some(Json::Object(props)) = entry.get("properties") {
                if let (Some(k), Some(v)) = (props.get("key"), props.get("value")) {
                    let key = self.plan(entry_doc, k, &format!("{at}/items/properties/key"), None)?;
                    let value = self.plan(entry_doc, v, &format!("{at}/items/properties/value"), None)?;
                    let schema = Schema::map(key.schema.clone(), value.schema.clone());
                    return Ok(Plan {
                        schema: schema.into_ref(),
                        kind: Kind::MapEntries(Box::new(key), Box::new(value)),
                    });
                }
            }
        }
        let items = self.plan(doc, items, &format!("{at}/items"), None)?;
        Ok(Plan { schema: Schema::array(items.schema.clone()).into_ref(), kind: Kind::Array(Box::new(items)) })
    }

    fn object(
        &mut self,
        doc: usize,
        obj: &'a Map<String, Json>,
        connect_type: Option<&str>,
        at: &str,
    ) -> Result<Plan, String> {
        let properties = obj.get("properties").and_then(Json::as_object).filter(|p| !p.is_empty());
        let additional = obj.get("additionalProperties");
        if connect_type == Some("map") || (properties.is_none() && additional.is_some_and(Json::is_object)) {
            let value = match additional {
                Some(schema @ Json::Object(_)) => {
                    self.plan(doc, schema, &format!("{at}/additionalProperties"), None)?
                }
                _ => json_plan(),
            };
            let schema = Schema::map(Schema::new(SchemaType::String).into_ref(), value.schema.clone());
            return Ok(Plan { schema: schema.into_ref(), kind: Kind::Map(Box::new(value)) });
        }
        match properties {
            Some(props) => {
                let properties = props.iter().map(|(name, schema)| (doc, name.as_str(), schema)).collect();
                let required: Vec<&str> = match obj.get("required") {
                    Some(Json::Array(names)) => names.iter().filter_map(Json::as_str).collect(),
                    _ => Vec::new(),
                };
                self.structure(properties, &required, at)
            }
            // `additionalProperties: false` and nothing declared: an empty struct.
            None if additional == Some(&Json::Bool(false)) => self.structure(Vec::new(), &[], at),
            // Any object at all: keep its JSON text.
            None => Ok(json_plan()),
        }
    }
}

/// A string holding the JSON text of whatever the payload has there.
fn json_plan() -> Plan {
    Plan { schema: Schema::new(SchemaType::String).optional().into_ref(), kind: Kind::Json }
}

/// `enum` / `const` → a string with Confluent's enum parameters.
fn enumeration(obj: &Map<String, Json>) -> Plan {
    let symbols: Vec<&Json> = match (obj.get("enum"), obj.get("const")) {
        (Some(Json::Array(values)), _) => values.iter().collect(),
        (_, Some(value)) => vec![value],
        _ => Vec::new(),
    };
    let mut parameters = BTreeMap::new();
    parameters.insert(ENUM_PARAM.to_owned(), String::new());
    let mut optional = false;
    for symbol in symbols {
        let text = match symbol {
            Json::Null => {
                optional = true;
                NULL_MARKER.to_owned()
            }
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        parameters.insert(format!("{ENUM_PARAM}.{text}"), text);
    }
    let mut schema = Schema::new(SchemaType::String);
    schema.parameters = parameters;
    schema.optional = optional;
    Plan { schema: schema.into_ref(), kind: Kind::Enum }
}

/// Confluent's struct for a union of several non-null branches.
fn union_plan(branches: Vec<Plan>) -> Plan {
    let fields = branches.iter().enumerate().map(|(i, p)| (format!("{ONE_OF_NAME}.field.{i}"), p.schema.clone()));
    let schema = Schema::structure(fields).named(ONE_OF_NAME);
    Plan { schema: schema.into_ref(), kind: Kind::Union(branches) }
}

fn with_schema(plan: Plan, change: impl FnOnce(&mut Schema)) -> Plan {
    let mut schema = Schema::clone(&plan.schema);
    change(&mut schema);
    Plan { schema: schema.into_ref(), kind: plan.kind }
}

/// `plan`, its schema optional.
fn optional(plan: Plan) -> Plan {
    if plan.schema.optional {
        return plan;
    }
    with_schema(plan, |s| s.optional = true)
}

/// The node a `$ref` fragment names: empty (the document), a JSON pointer, or an `$anchor`.
fn lookup<'j>(doc: &'j Json, fragment: &str) -> Option<&'j Json> {
    if fragment.is_empty() {
        return Some(doc);
    }
    if fragment.starts_with('/') {
        return doc.pointer(fragment);
    }
    find_anchor(doc, fragment, 0)
}

fn find_anchor<'j>(node: &'j Json, anchor: &str, depth: usize) -> Option<&'j Json> {
    if depth > 64 {
        return None;
    }
    match node {
        Json::Object(obj) => {
            let named = obj.get("$anchor").and_then(Json::as_str) == Some(anchor)
                || obj.get("$id").and_then(Json::as_str).and_then(|id| id.strip_prefix('#')) == Some(anchor);
            if named {
                return Some(node);
            }
            obj.values().find_map(|v| find_anchor(v, anchor, depth + 1))
        }
        Json::Array(items) => items.iter().find_map(|v| find_anchor(v, anchor, depth + 1)),
        _ => None,
    }
}

/// `%xx` escapes of a URI fragment decoded (`#/definitions/a%20b`).
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'%', Some(Some(hi)), Some(Some(lo))) =
            (bytes[i], bytes.get(i + 1).map(|b| hex(*b)), bytes.get(i + 2).map(|b| hex(*b)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `reference` resolved against the absolute URL `base` (`https://x/a/b.json` + `c.json` →
/// `https://x/a/c.json`); `None` when `base` is not absolute.
fn join_url(base: &str, reference: &str) -> Option<String> {
    if reference.contains("://") {
        return Some(reference.to_owned());
    }
    let (scheme, rest) = base.split_once("://")?;
    let path_start = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(path_start);
    if let Some(absolute) = reference.strip_prefix('/') {
        return Some(format!("{scheme}://{authority}/{absolute}"));
    }
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    Some(format!("{scheme}://{authority}{dir}{reference}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_fragments() {
        assert_eq!(
            join_url("https://x.io/s/order.json", "address.json").as_deref(),
            Some("https://x.io/s/address.json")
        );
        assert_eq!(join_url("https://x.io/s/order.json", "/a.json").as_deref(), Some("https://x.io/a.json"));
        assert_eq!(join_url("order.json", "a.json"), None);
        assert_eq!(percent_decode("/definitions/a%20b"), "/definitions/a b");
        assert_eq!(percent_decode("/x%2"), "/x%2");
    }
}
