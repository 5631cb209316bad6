//! `${var}` templating on any text with values that try to break out of strings: no panic, and
//! a value substituted inside a quoted string never ends the string (the text after it is
//! still inside the same string literal when tokenized).
#![no_main]

include!("shared.rs");

#[path = "../../src/sql/redact.rs"]
#[allow(dead_code)]
mod redact;
#[path = "../../src/sql/vars.rs"]
#[allow(dead_code)]
mod vars;

use std::collections::HashMap;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the value of ${v}; the rest is the template.
    let (value, template) = text.split_once('\n').unwrap_or(("x", text));
    let v = vars::Vars::new(HashMap::from([("v".to_string(), value.to_string())]));
    let _ = v.substitute(template);
    // The value inside one string literal: after substitution it is one string token whose
    // content is the value exactly.
    let quoted = format!("SELECT 'a${{v}}b'");
    if let Ok(sql) = v.substitute(&quoted) {
        use datafusion::sql::sqlparser::dialect::GenericDialect;
        use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
        let tokens = Tokenizer::new(&GenericDialect {}, &sql).tokenize().unwrap();
        let strings: Vec<&Token> = tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        assert_eq!(strings.len(), 2, "the value broke out of its string: {sql}");
        assert_eq!(
            strings[1],
            &Token::SingleQuotedString(format!("a{value}b")),
            "{sql}"
        );
    }
});
