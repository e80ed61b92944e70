//! Java's JAAS configuration syntax, as Kafka uses it in `sasl.jaas.config` and as Kafka
//! Connect's basic-auth REST extension uses it in its login file.
//!
//! One entry is `<LoginModule class> <flag> key=value key="quoted value" … ;`. A login file
//! wraps entries in named sections: `KafkaConnect { <entry> };`. Quoted values take `\"` and
//! `\\` escapes, as Java's `StreamTokenizer` does.

use std::collections::BTreeMap;

use thiserror::Error;

/// One login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// Fully qualified class, e.g. `org.apache.kafka.common.security.scram.ScramLoginModule`.
    pub login_module: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl JaasEntry {
    /// The class name without its package, e.g. `ScramLoginModule`.
    pub fn module_name(&self) -> &str {
        self.login_module.rsplit('.').next().unwrap_or(&self.login_module)
    }
}

/// Text that is not JAAS. The message says where and what was expected; it never quotes
/// option values, which are usually passwords.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid JAAS configuration: {0}")]
pub struct JaasError(String);

const FLAGS: [&str; 4] = ["required", "requisite", "sufficient", "optional"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Punct(char),
}

fn tokenize(text: &str) -> Result<Vec<Token>, JaasError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if matches!(c, '=' | ';' | '{' | '}') {
            tokens.push(Token::Punct(c));
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(JaasError("a quoted value is not closed".into())),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => return Err(JaasError("a quoted value is not closed".into())),
                    },
                    Some(other) => value.push(other),
                }
            }
            tokens.push(Token::Quoted(value));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || matches!(c, '=' | ';' | '{' | '}' | '"') {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

/// Parses entries (no sections), as in Kafka's `sasl.jaas.config`.
pub fn parse_entries(text: &str) -> Result<Vec<JaasEntry>, JaasError> {
    let tokens = tokenize(text)?;
    let mut tokens = tokens.into_iter().peekable();
    let entries = entries_until(&mut tokens, None)?;
    if entries.is_empty() {
        return Err(JaasError("no login module entry; expected e.g. `<LoginModule> required key=\"value\";`".into()));
    }
    Ok(entries)
}

/// Parses a login file and returns the entries of section `name`.
pub fn parse_section(text: &str, name: &str) -> Result<Vec<JaasEntry>, JaasError> {
    let mut tokens = tokenize(text)?.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let Token::Word(section) = token else {
            return Err(JaasError(format!("expected a section name, found {}", describe(&token))));
        };
        expect(&mut tokens, '{')?;
        let entries = entries_until(&mut tokens, Some('}'))?;
        if tokens.peek() == Some(&Token::Punct(';')) {
            tokens.next();
        }
        if section == name {
            return Ok(entries);
        }
    }
    Err(JaasError(format!("no section named {name}")))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("`{w}`"),
        Token::Quoted(_) => "a quoted value".into(),
        Token::Punct(c) => format!("`{c}`"),
    }
}

fn expect(tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token>>, punct: char) -> Result<(), JaasError> {
    match tokens.next() {
        Some(Token::Punct(c)) if c == punct => Ok(()),
        Some(other) => Err(JaasError(format!("expected `{punct}`, found {}", describe(&other)))),
        None => Err(JaasError(format!("expected `{punct}` at the end"))),
    }
}

fn entries_until(
    tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
    close: Option<char>,
) -> Result<Vec<JaasEntry>, JaasError> {
    let mut entries = Vec::new();
    loop {
        let module = match tokens.next() {
            None if close.is_none() => return Ok(entries),
            None => return Err(JaasError("a section is not closed with `}`".into())),
            Some(Token::Punct(c)) if Some(c) == close => return Ok(entries),
            Some(Token::Word(w)) => w,
            Some(other) => return Err(JaasError(format!("expected a login module class, found {}", describe(&other)))),
        };
        let flag = match tokens.next() {
            Some(Token::Word(f)) if FLAGS.contains(&f.to_ascii_lowercase().as_str()) => f.to_ascii_lowercase(),
            Some(other) => {
                return Err(JaasError(format!(
                    "after {module}, expected one of required, requisite, sufficient, optional; found {}",
                    describe(&other)
                )))
            }
            None => return Err(JaasError(format!("after {module}, expected a flag such as required"))),
        };
        let mut options = BTreeMap::new();
        loop {
            match tokens.next() {
                Some(Token::Punct(';')) => break,
                Some(Token::Word(key)) => {
                    expect(tokens, '=')?;
                    let value = match tokens.next() {
                        Some(Token::Word(v) | Token::Quoted(v)) => v,
                        _ => return Err(JaasError(format!("option {key} has no value"))),
                    };
                    options.insert(key, value);
                }
                Some(other) => return Err(JaasError(format!("expected an option or `;`, found {}", describe(&other)))),
                None => return Err(JaasError(format!("the {module} entry does not end with `;`"))),
            }
        }
        entries.push(JaasEntry { login_module: module, flag, options });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_sasl_jaas_config_lines_parse() {
        let entries = parse_entries(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p@ss=\"w;rd\"";"#,
        )
        .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].module_name(), "ScramLoginModule");
        assert_eq!(entries[0].flag, "required");
        assert_eq!(entries[0].options["username"], "alice");
        assert_eq!(entries[0].options["password"], r#"p@ss="w;rd""#);

        let unquoted =
            parse_entries("org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=x;")
                .unwrap();
        assert_eq!(unquoted[0].options["username"], "bob");
    }

    #[test]
    fn malformed_lines_say_what_is_missing_without_quoting_values() {
        let err = parse_entries(r#"org.x.ScramLoginModule required username="alice" password="secret""#).unwrap_err();
        assert!(err.to_string().contains("does not end with `;`"), "{err}");
        assert!(!err.to_string().contains("secret"));
        let err = parse_entries(r#"org.x.ScramLoginModule username="alice";"#).unwrap_err();
        assert!(err.to_string().contains("required"), "{err}");
        assert!(parse_entries("   ").is_err());
        assert!(parse_entries(r#"m required password="open"#).is_err());
    }

    #[test]
    fn login_file_sections() {
        let text = r#"
            Other { com.example.Module optional; };
            KafkaConnect {
              org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
              file="/etc/sluice/credentials.properties";
            };"#;
        let entries = parse_section(text, "KafkaConnect").unwrap();
        assert_eq!(entries[0].module_name(), "PropertyFileLoginModule");
        assert_eq!(entries[0].options["file"], "/etc/sluice/credentials.properties");
        assert!(parse_section(text, "Missing").unwrap_err().to_string().contains("Missing"));
    }
}
