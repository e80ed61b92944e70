//! Where in a record a value failed to convert, for error messages a user can act on:
//! `order.items[2].qty: expected an integer, got "x"` (`(root): …` for the record itself).

use std::fmt;

/// A conversion failure and the path to it, built innermost segment first as the error
/// travels up through nested fields.
#[derive(Debug)]
pub(crate) struct PathError {
    path: Vec<Segment>,
    message: String,
}

/// One step of a [`PathError`]'s path.
#[derive(Debug)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
    Key(String),
}

impl PathError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        PathError { path: Vec::new(), message: message.into() }
    }

    /// The same failure, one level further out.
    pub(crate) fn at(mut self, segment: Segment) -> Self {
        self.path.push(segment);
        self
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            return write!(f, "(root): {}", self.message);
        }
        for (i, segment) in self.path.iter().rev().enumerate() {
            match segment {
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => write!(f, "[{}]", serde_json::Value::String(key.clone()))?,
            }
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_outermost_first() {
        let e = PathError::new("expected an integer, got \"x\"")
            .at(Segment::Field("qty".into()))
            .at(Segment::Index(2))
            .at(Segment::Field("items".into()))
            .at(Segment::Key("k\"1".into()))
            .at(Segment::Field("order".into()));
        assert_eq!(e.to_string(), "order[\"k\\\"1\"].items[2].qty: expected an integer, got \"x\"");
        assert_eq!(PathError::new("bad").to_string(), "(root): bad");
    }
}
