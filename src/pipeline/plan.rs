//! A pipeline's files in dependency order. Each statement's reads and writes come from
//! [`crate::sql::tables`]; a file may add `-- depends on: other.sql, schema.table` lines.
//!
//! File B runs after file A when B reads a table A writes, when both write a table and A comes
//! first by name, or when B declares A (or a table A writes). Among files free to run, name
//! order decides. A cycle is an error that names its files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::error::{LakeError, Result};
use crate::sql::split::{split, Piece};
use crate::sql::tables::{normalise_text, tables};
use crate::sql::LakeStatement;

/// One file of a pipeline, read and split.
#[derive(Debug, Clone)]
pub struct PipelineFile {
    pub path: PathBuf,
    /// The file's name (`02_silver.sql`).
    pub name: String,
    pub pieces: Vec<Piece>,
    /// Each piece's statement, parsed once here and run as parsed (None for a meta command,
    /// or a statement that does not parse: it fails with its line when it runs).
    pub statements: Vec<Option<LakeStatement>>,
    pub reads: BTreeSet<String>,
    pub writes: BTreeSet<String>,
    /// `-- depends on:` entries, as written.
    pub declared: Vec<String>,
}

impl PipelineFile {
    /// Reads and analyses a file; `substitute` fills in `${vars}` before parsing.
    pub fn load(path: PathBuf, substitute: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let text = std::fs::read_to_string(&path).map_err(|e| LakeError::read(&path, e))?;
        let pieces = split(&text).map_err(|e| {
            e.at(crate::error::Origin {
                source: path.display().to_string(),
                line: 1,
                first_line: String::new(),
            })
        })?;
        let mut reads = BTreeSet::new();
        let mut writes = BTreeSet::new();
        let mut statements = Vec::with_capacity(pieces.len());
        for p in &pieces {
            let Piece::Sql { text, .. } = p else {
                statements.push(None);
                continue;
            };
            let stmt = substitute(text).and_then(|sql| crate::sql::parse_statement(&sql).ok());
            // Without its variables a statement still names its tables.
            let named = match &stmt {
                Some(s) => Some(tables(s)),
                None => crate::sql::parse_statement(text).ok().map(|s| tables(&s)),
            };
            if let Some(t) = named {
                reads.extend(t.reads);
                writes.extend(t.writes);
            }
            statements.push(stmt);
        }
        reads.retain(|r| !writes.contains(r));
        let declared = text
            .lines()
            .filter_map(|l| {
                let l = l.trim().strip_prefix("--")?.trim();
                let lower = l.to_ascii_lowercase();
                let rest = lower
                    .strip_prefix("depends on:")
                    .or_else(|| lower.strip_prefix("depends_on:"))?;
                Some(
                    rest.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        Ok(PipelineFile {
            path,
            name,
            pieces,
            statements,
            reads,
            writes,
            declared,
        })
    }

    fn stem(&self) -> &str {
        self.name.strip_suffix(".sql").unwrap_or(&self.name)
    }

    /// Whether `word` names this file (its name or stem) or a table it writes.
    fn is_named(&self, word: &str) -> bool {
        let w = word.to_ascii_lowercase();
        self.name.eq_ignore_ascii_case(&w)
            || self.stem().eq_ignore_ascii_case(&w)
            || self.path.to_string_lossy().eq_ignore_ascii_case(&w)
            || normalise_text(&w).is_some_and(|t| self.writes.contains(&t))
    }
}

/// Edges `upstream -> downstream` between file indexes.
fn edges(files: &[PipelineFile]) -> Result<BTreeMap<usize, BTreeSet<usize>>> {
    let mut after: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    let mut link = |from: usize, to: usize| {
        if from != to {
            after.entry(to).or_default().insert(from);
        }
    };
    for (b, fb) in files.iter().enumerate() {
        for (a, fa) in files.iter().enumerate() {
            let reads_a = fb.reads.iter().any(|t| fa.writes.contains(t));
            let both_write_a_first = a < b && fb.writes.iter().any(|t| fa.writes.contains(t));
            if reads_a || both_write_a_first {
                link(a, b);
            }
        }
        for d in &fb.declared {
            let found: Vec<usize> = files
                .iter()
                .enumerate()
                .filter(|(_, f)| f.is_named(d))
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                return Err(LakeError::Pipeline(format!(
                    "{}: depends on {d}, which is neither a file of this pipeline nor a table one of them writes",
                    fb.name
                )));
            }
            for a in found {
                link(a, b);
            }
        }
    }
    Ok(after)
}

/// The files in the order they run.
pub fn order(files: Vec<PipelineFile>) -> Result<Vec<PipelineFile>> {
    let after = edges(&files)?;
    let mut done: Vec<usize> = Vec::new();
    let mut left: BTreeSet<usize> = (0..files.len()).collect();
    while !left.is_empty() {
        let next = left.iter().copied().find(|i| {
            after
                .get(i)
                .is_none_or(|deps| deps.iter().all(|d| done.contains(d)))
        });
        match next {
            Some(i) => {
                left.remove(&i);
                done.push(i);
            }
            None => {
                let names: Vec<&str> = left.iter().map(|i| files[*i].name.as_str()).collect();
                return Err(LakeError::Pipeline(format!(
                    "these files depend on each other in a cycle: {}; split the statements so each table is written before it is read",
                    names.join(", ")
                )));
            }
        }
    }
    let mut slots: Vec<Option<PipelineFile>> = files.into_iter().map(Some).collect();
    Ok(done.into_iter().filter_map(|i| slots[i].take()).collect())
}

/// The files `selectors` pick, in run order: `name` picks a file (by file name, stem or a
/// table it writes), `name+` adds everything downstream of it, `+name` everything upstream.
pub fn select(files: Vec<PipelineFile>, selectors: &[String]) -> Result<Vec<PipelineFile>> {
    if selectors.is_empty() {
        return Ok(files);
    }
    let after = edges(&files)?;
    let mut picked: BTreeSet<usize> = BTreeSet::new();
    for raw in selectors.iter().flat_map(|s| s.split(',')) {
        let raw = raw.trim();
        let up = raw.starts_with('+');
        let down = raw.ends_with('+');
        let word = raw.trim_matches('+');
        let hits: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_named(word))
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
            return Err(LakeError::Pipeline(format!(
                "--select {raw}: no file or written table is called {word}; the files are {}",
                names.join(", ")
            )));
        }
        for h in hits {
            picked.insert(h);
            if down {
                picked.extend((0..files.len()).filter(|n| reaches(&after, h, *n)));
            }
            if up {
                let mut stack = vec![h];
                while let Some(n) = stack.pop() {
                    for f in after.get(&n).into_iter().flatten() {
                        if picked.insert(*f) {
                            stack.push(*f);
                        }
                    }
                }
            }
        }
    }
    Ok(files
        .into_iter()
        .enumerate()
        .filter(|(i, _)| picked.contains(i))
        .map(|(_, f)| f)
        .collect())
}

/// The indexes of the files downstream of file `from` (not itself).
pub fn downstream(files: &[PipelineFile], from: usize) -> Result<BTreeSet<usize>> {
    let after = edges(files)?;
    Ok((0..files.len())
        .filter(|n| *n != from && reaches(&after, from, *n))
        .collect())
}

/// Whether `to` is `from` or downstream of it.
fn reaches(after: &BTreeMap<usize, BTreeSet<usize>>, from: usize, to: usize) -> bool {
    if from == to {
        return true;
    }
    after
        .get(&to)
        .is_some_and(|froms| froms.iter().any(|f| reaches(after, from, *f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sql: &str) -> PipelineFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, sql).unwrap();
        let mut f = PipelineFile::load(path, &|_| None).unwrap();
        f.path = PathBuf::from(name);
        f
    }

    fn names(files: &[PipelineFile]) -> Vec<&str> {
        files.iter().map(|f| f.name.as_str()).collect()
    }

    fn pipeline() -> Vec<PipelineFile> {
        vec![
            file("a_gold.sql", "CREATE OR REPLACE TABLE gold.g AS SELECT * FROM silver.s;"),
            file("b_bronze.sql", "CREATE TABLE IF NOT EXISTS bronze.b AS SELECT 1 AS x;"),
            file("c_maint.sql", "OPTIMIZE silver.s;\nVACUUM gold.g;"),
            file("d_silver.sql", "MERGE INTO silver.s t USING (SELECT * FROM incremental('bronze.b')) u ON t.x = u.x WHEN NOT MATCHED THEN INSERT *;"),
            file("e_side.sql", "-- depends on: d_silver\nSELECT 1;"),
        ]
    }

    #[test]
    fn files_run_after_what_they_read() {
        let ordered = order(pipeline()).unwrap();
        assert_eq!(
            names(&ordered),
            [
                "b_bronze.sql",
                "d_silver.sql",
                "a_gold.sql",
                "c_maint.sql",
                "e_side.sql"
            ]
        );
    }

    #[test]
    fn select_takes_downstream_and_upstream() {
        let ordered = order(pipeline()).unwrap();
        let s = select(ordered.clone(), &["silver.s+".into()]).unwrap();
        assert_eq!(
            names(&s),
            ["d_silver.sql", "a_gold.sql", "c_maint.sql", "e_side.sql"]
        );
        let s = select(ordered.clone(), &["+a_gold".into()]).unwrap();
        assert_eq!(names(&s), ["b_bronze.sql", "d_silver.sql", "a_gold.sql"]);
        let s = select(ordered.clone(), &["a_gold.sql".into()]).unwrap();
        assert_eq!(names(&s), ["a_gold.sql"]);
        assert!(select(ordered, &["nope".into()]).is_err());
    }

    #[test]
    fn cycles_are_refused_by_name() {
        let err = order(vec![
            file("x.sql", "INSERT INTO s.a SELECT * FROM s.b;"),
            file("y.sql", "INSERT INTO s.b SELECT * FROM s.a;"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.sql, y.sql"), "{err}");
    }
}
