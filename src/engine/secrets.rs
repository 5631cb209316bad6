//! `CREATE [PERSISTENT] SECRET`, `DROP SECRET`, `SHOW SECRETS`: the session's scoped
//! credentials ([`crate::catalog::secrets`]). A persistent secret keeps `${VAR}` references only:
//! a literal secret value is refused, with how to pass it instead.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field};

use super::{rows, Engine, Outcome};
use crate::catalog::secrets::{is_reference, Secret};
use crate::error::{LakeError, Result};
use crate::sql::{parse_statement, LakeStatement, SecretStatement};

impl Engine {
    /// Reads the warehouse's persistent secrets, once per session (before its first statement).
    pub(super) async fn load_secrets_once(&self) -> Result<()> {
        let loaded = self
            .secrets_loaded
            .load(std::sync::atomic::Ordering::Acquire);
        if !loaded {
            self.warehouse.load_secrets().await?;
            self.secrets_loaded
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Runs a secret statement; `raw` is the statement before `${var}`s were substituted.
    pub(super) async fn secret(&self, stmt: SecretStatement, raw: &str) -> Result<Outcome> {
        let secrets = self.warehouse.secrets();
        match stmt {
            SecretStatement::Show => {
                let all = secrets.all();
                let col = |f: fn(&Secret) -> String| -> ArrayRef {
                    Arc::new(StringArray::from(all.iter().map(f).collect::<Vec<_>>()))
                };
                rows(
                    vec![
                        Field::new("name", DataType::Utf8, false),
                        Field::new("type", DataType::Utf8, false),
                        Field::new("scope", DataType::Utf8, false),
                        Field::new("persistent", DataType::Boolean, false),
                    ],
                    vec![
                        col(|s| s.name.clone()),
                        col(|s| s.kind.clone()),
                        col(|s| s.scope.clone()),
                        Arc::new(BooleanArray::from(
                            all.iter().map(|s| s.persistent).collect::<Vec<_>>(),
                        )),
                    ],
                )
            }
            SecretStatement::Drop { name, if_exists } => match secrets.remove(&name)? {
                Some(s) => {
                    if s.persistent {
                        self.warehouse.save_secrets().await?;
                    }
                    Ok(Outcome::Message(format!("dropped secret {name}")))
                }
                None if if_exists => Ok(Outcome::Message(format!("no secret {name}"))),
                None => Err(LakeError::BadStatement(format!(
                    "no secret {name}; SHOW SECRETS lists them"
                ))),
            },
            SecretStatement::Create {
                name,
                or_replace,
                if_not_exists,
                persistent,
                kind,
                params,
            } => {
                if if_not_exists && secrets.all().iter().any(|s| s.name == name) {
                    return Ok(Outcome::Message(format!("secret {name} exists")));
                }
                let mut secret = if persistent {
                    // The statement as written: its values are the `${VAR}`s to keep.
                    let LakeStatement::Secret(SecretStatement::Create {
                        params: written, ..
                    }) = parse_statement(raw)?
                    else {
                        return Err(LakeError::Internal(
                            "a secret statement reparsed as another".into(),
                        ));
                    };
                    let secret = Secret::new(&name, &kind, &written)?;
                    if let Some((key, _)) = secret
                        .options
                        .iter()
                        .find(|(k, v)| secret.is_credential(k) && !is_reference(v))
                    {
                        return Err(LakeError::BadStatement(format!(
                            "CREATE PERSISTENT SECRET {name}: the value of {key} is written out; a persistent secret keeps ${{VAR}} references only: write it as '${{MY_VAR}}' and set MY_VAR in the environment of every session"
                        )));
                    }
                    secret
                } else {
                    Secret::new(&name, &kind, &params)?
                };
                secret.persistent = persistent;
                let scope = if secret.is_api() {
                    format!("read_api (TYPE {})", secret.kind)
                } else {
                    secret.scope.clone()
                };
                secrets.add(secret, or_replace)?;
                if persistent {
                    self.warehouse.save_secrets().await?;
                }
                Ok(Outcome::Message(format!(
                    "{} secret {name} for {scope}",
                    if persistent {
                        "persistent"
                    } else {
                        "temporary"
                    }
                )))
            }
        }
    }
}
