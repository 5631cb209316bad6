//! `CREATE TABLE`: with AS SELECT (written by [`crate::delta::write`]), with a column list
//! only (an empty table, [`crate::delta::create`]), or as a DEEP CLONE of another table.

use super::plan::Opened;
use super::{Engine, ExecOptions, Outcome};
use crate::catalog::{self, parse_location, Registration, TableEntry, TableName};
use crate::delta::create::CreateRequest;
use crate::delta::write::{write, WriteMode, WriteRequest};
use crate::delta::Commit;
use crate::error::{LakeError, Result};
use crate::sql::create_table::CloneSource;
use crate::sql::CreateTableStatement;

fn commit<'a>(entry: &'a TableEntry, sql: &'a str) -> Commit<'a> {
    Commit {
        table: &entry.name,
        sql: Some(sql),
    }
}

impl Engine {
    pub(super) async fn create_table(
        &self,
        ct: CreateTableStatement,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        let name = TableName::from_object(&ct.name)?;
        let mut target = self.warehouse.resolve_for_write(&name).await?;
        if let Some(loc) = &ct.location {
            target.url = parse_location(loc)?;
            target.options = self.warehouse.options_for(&target.url);
            target.external = true;
        }
        let exists = catalog::is_delta_table(&target.url, &target.options).await?;
        if exists && ct.if_not_exists {
            return Ok(Outcome::Message(format!(
                "{} already exists; nothing written",
                target.name
            )));
        }
        if exists && !ct.or_replace {
            return Err(LakeError::TableExists(target.name));
        }
        if let Some(clone) = ct.clone.clone() {
            return self
                .clone_table(&ct, &name, clone, target, exists, sql, opts)
                .await;
        }
        let Some(query) = ct.query.clone() else {
            let columns = self.struct_fields(&ct.columns).await?;
            let m = crate::delta::create::create(CreateRequest {
                table: catalog::new_table(&target)?,
                commit: commit(&target, sql),
                columns,
                partition_by: ct.partitioned_by.iter().map(|i| i.value.clone()).collect(),
                properties: ct
                    .properties
                    .iter()
                    .cloned()
                    .chain(ct.expectations.iter().map(crate::expectations::property))
                    .collect(),
                comment: ct.comment.clone(),
                replace: exists,
            })
            .await?;
            self.register_location(&ct, &name).await?;
            return Ok(Outcome::Write(m));
        };
        let mut properties = ct.properties.clone();
        if !exists {
            properties.extend(ct.expectations.iter().map(crate::expectations::property));
        }
        let (mode, operation) = if exists {
            (WriteMode::Replace, "CREATE OR REPLACE TABLE AS SELECT")
        } else {
            (WriteMode::Create, "CREATE TABLE AS SELECT")
        };
        let made_here = if exists {
            None
        } else {
            catalog::folder_to_make(&target)
        };
        let written = super::retry::retrying(|| async {
            let opened = Opened::default();
            // A replaced table that the query reads is read at the version it replaces.
            let table = if exists {
                self.open_and_serve(&opened, &target, super::served_name(&ct.name)?)
                    .await?
            } else {
                self.warehouse.open_for_write(&target).await?
            };
            let plan = self.plan_query(&opened, &query).await?;
            let input = self.run_for_write(plan, opts).await?;
            // A replaced table keeps its attached expectations unless the statement declares
            // its own.
            let (input, enforcement) = if ct.expectations.is_empty() {
                self.enforced(input, &target, &table, &[])?
            } else {
                crate::expectations::enforce::enforce(
                    &self.state(),
                    input,
                    &target.name,
                    &ct.expectations,
                )?
            };
            let req = WriteRequest {
                table,
                commit: commit(&target, sql),
                mode,
                partition_by: ct.partitioned_by.iter().map(|i| i.value.clone()).collect(),
                properties: properties.clone(),
                comment: ct.comment.clone(),
                operation,
                replace_where: None,
                merge_schema: false,
                extra: Default::default(),
            };
            Ok((write(&self.state(), input, req).await?, enforcement))
        })
        .await;
        let (mut metrics, enforcement) = match written {
            Ok(w) => w,
            Err(e) => {
                // A failed CTAS leaves no empty table folder behind (one with files, a write
                // cut short, is VACUUM's once the table exists).
                if let Some(dir) = made_here {
                    catalog::remove_empty_folder(&dir);
                }
                return Err(e);
            }
        };
        if exists && !ct.expectations.is_empty() {
            metrics.version = self.attach_only(&target, &ct.expectations, sql).await?;
        }
        self.register_location(&ct, &name).await?;
        self.record_enforcement(&target, &mut metrics, enforcement)
            .await?;
        Ok(Outcome::Write(metrics))
    }

    /// Makes `declared` the table's attached expectations (one metadata commit); returns the
    /// version committed.
    pub(super) async fn attach_only(
        &self,
        target: &TableEntry,
        declared: &[crate::sql::Expectation],
        sql: &str,
    ) -> Result<u64> {
        let table = self.warehouse.open(target).await?;
        let stale: Vec<String> = crate::expectations::of_table(&table)?
            .iter()
            .map(|e| crate::expectations::property(e).0)
            .collect();
        let set: Vec<(String, String)> =
            declared.iter().map(crate::expectations::property).collect();
        let m = crate::delta::properties::update(
            table,
            commit(target, sql),
            &set,
            &stale,
            "SET EXPECTATIONS",
        )
        .await?;
        Ok(m.version)
    }

    /// A table created at an explicit LOCATION is registered under its name.
    async fn register_location(&self, ct: &CreateTableStatement, name: &TableName) -> Result<()> {
        if let (Some(location), Some(qualified)) = (&ct.location, name.qualified()) {
            let reg = Registration {
                name: qualified,
                location: location.clone(),
                options: Default::default(),
            };
            self.warehouse.register(reg, true).await?;
        }
        Ok(())
    }

    /// `CREATE TABLE t [DEEP] CLONE src [VERSION AS OF n]`: delta-rs has no clone, so the
    /// source version's rows are written as a new table with the source's partitioning and
    /// properties (constraints included). The clone's history starts at its own version 0.
    #[allow(clippy::too_many_arguments)]
    async fn clone_table(
        &self,
        ct: &CreateTableStatement,
        name: &TableName,
        clone: CloneSource,
        target: TableEntry,
        exists: bool,
        sql: &str,
        opts: &ExecOptions,
    ) -> Result<Outcome> {
        if clone.shallow {
            return Err(LakeError::Unsupported(
                "SHALLOW CLONE: a Delta table cannot point at another table's files here; use DEEP CLONE (the default), which copies them".into(),
            ));
        }
        let source = self.entry_for(&clone.source).await?;
        let as_of = match &clone.version {
            Some(v) => Some(self.version_spec(v).await?),
            None => None,
        };
        let table = self.warehouse.open_at(&source, as_of).await?;
        let version = table.version().unwrap_or_default();
        let snapshot = table
            .snapshot()
            .map_err(crate::delta::on_table(&source.name))?;
        let partition_by: Vec<String> = snapshot.metadata().partition_columns().to_vec();
        let mut properties: Vec<(String, String)> = snapshot
            .metadata()
            .configuration()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        properties.sort();
        for (k, v) in &ct.properties {
            properties.retain(|(pk, _)| pk != k);
            properties.push((k.clone(), v.clone()));
        }
        let comment = snapshot.metadata().description().map(str::to_string);
        let provider = catalog::provider::provider_of(&table, &source.name).await?;
        let df = self.ctx.read_table(provider)?;
        let input = self.run_for_write(df.logical_plan().clone(), opts).await?;
        let req = WriteRequest {
            table: self.warehouse.open_for_write(&target).await?,
            commit: commit(&target, sql),
            mode: if exists {
                WriteMode::Replace
            } else {
                WriteMode::Create
            },
            partition_by,
            properties,
            comment,
            operation: &format!("CLONE {} version {version}", source.name),
            replace_where: None,
            merge_schema: false,
            extra: Default::default(),
        };
        let m = write(&self.state(), input, req).await?;
        self.register_location(ct, name).await?;
        Ok(Outcome::Write(m))
    }
}
