//! `Filter`: drops every record. On its own it empties the stream; with a predicate
//! (`transforms.f.predicate=…`) it drops exactly the records the predicate selects.

use sluice_api::{ConnectorConfig, Result, SinkRecord, Transform};

pub struct Filter;

impl Filter {
    pub fn new(_config: &ConnectorConfig) -> Result<Self> {
        Ok(Filter)
    }
}

impl Transform for Filter {
    fn apply(&self, _record: SinkRecord) -> Result<Option<SinkRecord>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::Value;

    #[test]
    fn drops_every_record() {
        let f = Filter::new(&cfg(&[])).unwrap();
        assert!(f.apply(value_record(None, Value::from("x"))).unwrap().is_none());
        assert!(f.apply(value_record(None, Value::Null)).unwrap().is_none());
    }
}
