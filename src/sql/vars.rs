//! `${name}` variables: values come from `--var name=value`, then the environment. An undefined
//! variable is an error, never an empty string. `${run_id}` is this run's id.

use std::collections::HashMap;

use crate::error::{LakeError, Result};

/// Variables set with `--var`; the environment is consulted after them.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: HashMap<String, String>,
}

impl Vars {
    /// Variables from `--var` pairs.
    pub fn new(values: HashMap<String, String>) -> Self {
        Vars { values }
    }

    /// Sets `name` unless `--var` already did (lakeshell's own, such as `${run_id}`).
    pub fn set_default(&mut self, name: &str, value: &str) {
        self.values
            .entry(name.to_string())
            .or_insert_with(|| value.to_string());
    }

    /// Sets `name` to `value`, over any value it had.
    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }

    /// Replaces every `${name}` in `text`. `$$` and `$1` are left alone: only the braced form is a
    /// variable. Inside a quoted string (`'${day}'`) the value stays a value: its quotes are
    /// doubled, so it cannot end the string and inject SQL; elsewhere it is SQL text (a number,
    /// a name), as in dbt's templating.
    pub fn substitute(&self, text: &str) -> Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut quotes = Quotes::default();
        while let Some(pos) = rest.find("${") {
            out.push_str(&rest[..pos]);
            quotes.scan(&rest[..pos]);
            let after = &rest[pos + 2..];
            let Some(end) = after.find('}') else {
                return Err(LakeError::Parse("unterminated ${ in statement".into()));
            };
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(LakeError::Parse(format!("bad variable name ${{{name}}}")));
            }
            let value = self
                .lookup(name)
                .ok_or_else(|| LakeError::UndefinedVariable(name.into()))?;
            if super::redact::is_secret_key(name) {
                crate::error::remember_secret(&value);
            }
            if quotes.in_string() {
                out.push_str(&value.replace('\'', "''"));
            } else {
                out.push_str(&value);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Where a scan of SQL text is: in a single-quoted string, a double-quoted name, a comment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Quotes {
    #[default]
    Code,
    Str,
    Name,
    LineComment,
    BlockComment,
}

impl Quotes {
    /// Moves the state over `text`.
    fn scan(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            *self = match (*self, c) {
                (Quotes::Code, '\'') => Quotes::Str,
                (Quotes::Code, '"') => Quotes::Name,
                (Quotes::Code, '-') if chars.peek() == Some(&'-') => {
                    chars.next();
                    Quotes::LineComment
                }
                (Quotes::Code, '/') if chars.peek() == Some(&'*') => {
                    chars.next();
                    Quotes::BlockComment
                }
                (Quotes::Str, '\'') | (Quotes::Name, '"') | (Quotes::LineComment, '\n') => {
                    Quotes::Code
                }
                (Quotes::BlockComment, '*') if chars.peek() == Some(&'/') => {
                    chars.next();
                    Quotes::Code
                }
                (state, _) => state,
            };
        }
    }

    fn in_string(self) -> bool {
        self == Quotes::Str
    }
}

/// A JSON object of names and values as variables: strings, numbers and booleans as `--var`
/// would give them; anything else is refused, naming the key.
pub fn scalar_pairs(
    map: serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<Vec<(String, String)>, String> {
    map.into_iter()
        .map(|(k, v)| {
            let value = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "{k} is {other}; a variable is a string, a number or a boolean"
                    ))
                }
            };
            Ok((k, value))
        })
        .collect()
}

impl Vars {
    /// `values` (as substituted) with each value that one `${NAME}` of `raw` produced put back
    /// as that reference, so a registration keeps `${SECRET}` rather than the secret.
    pub fn unsubstituted(&self, raw: &str, values: &[(String, String)]) -> Vec<(String, String)> {
        let mut refs: Vec<(String, String)> = Vec::new();
        let mut rest = raw;
        while let Some(pos) = rest.find("${") {
            let after = &rest[pos + 2..];
            let Some(end) = after.find('}') else { break };
            let name = &after[..end];
            if let Some(v) = self.lookup(name) {
                refs.push((name.to_string(), v));
            }
            rest = &after[end + 1..];
        }
        values
            .iter()
            .map(|(k, v)| match refs.iter().find(|(_, value)| value == v) {
                Some((name, _)) => (k.clone(), format!("${{{name}}}")),
                None => (k.clone(), v.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_in_a_string_cannot_end_it() {
        let vars = Vars::new(HashMap::from([(
            "name".to_string(),
            "x' OR '1' = '1".to_string(),
        )]));
        assert_eq!(
            vars.substitute("SELECT * FROM t WHERE a = '${name}' -- '${name}'")
                .unwrap(),
            "SELECT * FROM t WHERE a = 'x'' OR ''1'' = ''1' -- 'x' OR '1' = '1'"
        );
        // Outside quotes it is SQL text, as documented: a number, a name.
        let vars = Vars::new(HashMap::from([("n".to_string(), "3".to_string())]));
        assert_eq!(
            vars.substitute("SELECT 'it''s', ${n} FROM \"a'b\" WHERE x = '${n}'")
                .unwrap(),
            "SELECT 'it''s', 3 FROM \"a'b\" WHERE x = '3'"
        );
    }

    #[test]
    fn substitutes_flags_before_environment() {
        let vars = Vars::new(HashMap::from([(
            "day".to_string(),
            "2024-01-02".to_string(),
        )]));
        assert_eq!(
            vars.substitute("WHERE d = '${day}'").unwrap(),
            "WHERE d = '2024-01-02'"
        );
    }

    #[test]
    fn undefined_is_an_error_that_says_how_to_fix_it() {
        let err = Vars::default()
            .substitute("SELECT ${lakeshell_surely_unset}")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("--var lakeshell_surely_unset=VALUE"),
            "{err}"
        );
    }

    #[test]
    fn values_from_references_are_put_back() {
        let vars = Vars::new(HashMap::from([("KEY".to_string(), "s3cr3t".to_string())]));
        let raw = "OPTIONS ('aws_secret_access_key' '${KEY}', 'aws_region' 'eu')";
        assert_eq!(
            vars.unsubstituted(
                raw,
                &[
                    ("aws_secret_access_key".into(), "s3cr3t".into()),
                    ("aws_region".into(), "eu".into())
                ]
            ),
            vec![
                ("aws_secret_access_key".to_string(), "${KEY}".to_string()),
                ("aws_region".to_string(), "eu".to_string())
            ]
        );
    }

    #[test]
    fn dollar_without_brace_is_left_alone() {
        assert_eq!(
            Vars::default().substitute("SELECT $1, $$x$$").unwrap(),
            "SELECT $1, $$x$$"
        );
    }
}
