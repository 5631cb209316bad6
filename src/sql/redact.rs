//! Keeps secrets out of history, logs, commits and printed options. A secret is an option whose
//! key names a credential (secret, password, token, key, sas, signature, credential).

/// True when an option key names a credential.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // Identifiers that are not secrets even though they contain "key".
    if k.ends_with("key_id") || k.ends_with("access_key_id") || k.contains("key_name") {
        return false;
    }
    [
        "secret",
        "password",
        "token",
        "sas",
        "signature",
        "credential",
        "account_key",
        "private_key",
        "_key",
        "session",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// The value shown in place of a secret.
pub const REDACTED: &str = "***";

/// Redacts the values of secret options written in SQL text: `'aws_secret_access_key' 'abc'`,
/// `aws_secret_access_key = 'abc'` and `"key" 'abc'` become `... '***'`. A value that is a
/// `${VAR}` reference is kept: it names the secret without revealing it.
pub fn redact_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // Read a quoted literal.
            let quote = c;
            let mut j = i + 1;
            let mut value = String::new();
            while j < chars.len() {
                if chars[j] == quote {
                    if j + 1 < chars.len() && chars[j + 1] == quote {
                        value.push(quote);
                        j += 2;
                        continue;
                    }
                    break;
                }
                value.push(chars[j]);
                j += 1;
            }
            let end = j.min(chars.len() - 1);
            if quote == '\'' && is_secret_key(&last_word) && !value.starts_with("${") {
                out.push('\'');
                out.push_str(REDACTED);
                out.push('\'');
                last_word.clear();
            } else {
                out.extend(&chars[i..=end]);
                last_word = value;
            }
            i = end + 1;
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '.' {
            let mut j = i;
            let mut word = String::new();
            while j < chars.len()
                && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '.')
            {
                word.push(chars[j]);
                j += 1;
            }
            out.push_str(&word);
            last_word = word;
            i = j;
            continue;
        }
        if !(c.is_whitespace() || c == '=' || c == ':') {
            last_word.clear();
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_option_values_in_every_spelling() {
        let sql = "CREATE EXTERNAL TABLE t STORED AS DELTA LOCATION 's3://b/t' OPTIONS ('aws_access_key_id' 'AKIA', 'aws_secret_access_key' 'hunter2', aws.session_token = 'tok')";
        let red = redact_sql(sql);
        assert!(!red.contains("hunter2") && !red.contains("tok'"), "{red}");
        assert!(red.contains("'AKIA'"), "key ids are not secrets: {red}");
        assert!(red.contains("'aws_secret_access_key' '***'"), "{red}");
    }

    #[test]
    fn keeps_variable_references_and_ordinary_strings() {
        let sql = "OPTIONS ('azure_storage_account_key' '${AZ_KEY}') WHERE name = 'token'";
        assert_eq!(redact_sql(sql), sql);
    }
}
