//! The interactive prompt: multi-line statements ended by `;`, persistent history (secrets
//! redacted before they are saved), completion, Ctrl-C to cancel a running statement or clear
//! the line, Ctrl-D to exit.

mod helper;

use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use std::sync::atomic::Ordering;

use crate::error::{LakeError, Result};
use crate::meta::Meta;
use crate::output;
use crate::shell::{Next, Shell};
use crate::sql::redact::redact_sql;
use crate::sql::split::Piece;
use helper::LakeHelper;

/// Opens `text` in `$VISUAL` or `$EDITOR` (else `vi`) and returns what was saved.
fn edit(text: &str) -> Result<String> {
    let path = std::env::temp_dir().join(format!("lakeshell-edit-{}.sql", std::process::id()));
    std::fs::write(&path, format!("{text}\n")).map_err(|e| LakeError::write(&path, e))?;
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("{editor} \"$1\""), "sh"])
        .arg(&path)
        .status()
        .map_err(|e| LakeError::Prompt(format!("cannot start the editor {editor:?}: {e}")))?;
    let edited = std::fs::read_to_string(&path).map_err(|e| LakeError::read(&path, e));
    let _ = std::fs::remove_file(&path);
    if !status.success() {
        return Err(LakeError::Prompt(format!(
            "the editor {editor:?} exited with {status}; nothing was run"
        )));
    }
    edited
}

/// The default history file.
pub fn default_history() -> Option<PathBuf> {
    dirs::home_dir().map(|h| h.join(".lakeshell_history"))
}

/// Runs the REPL until `\q` or Ctrl-D; returns the exit code.
pub async fn run(mut shell: Shell, history: Option<PathBuf>) -> Result<i32> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<LakeHelper, FileHistory> =
        Editor::with_config(config).map_err(|e| LakeError::Prompt(format!("cannot start: {e}")))?;
    let helper = LakeHelper::new(
        std::sync::Arc::clone(&shell.engine),
        tokio::runtime::Handle::current(),
    );
    let names = helper.names();
    let highlight = helper.highlight_switch();
    editor.set_helper(Some(helper));
    let history = history.or_else(default_history);
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    helper::refresh(&shell.engine, &names).await;
    let mut stderr = std::io::stderr();
    {
        use std::io::Write;
        let _ = writeln!(
            stderr,
            "lakeshell {} on {} — \\? for help, Ctrl-D to exit",
            env!("CARGO_PKG_VERSION"),
            crate::catalog::display_url(shell.engine.warehouse().root())
        );
    }
    loop {
        match editor.readline("lakeshell> ") {
            Ok(line) => {
                let mut line = line.trim().to_string();
                if line.is_empty() {
                    continue;
                }
                if helper::ends_in_edit(&line) {
                    // `\e` edits what was typed before it, else the last statement.
                    let typed = line
                        .trim_end()
                        .rsplit_once('\n')
                        .map(|(before, _)| before.trim().to_string())
                        .unwrap_or_default();
                    let last = editor.history().iter().last().cloned();
                    let start = if typed.is_empty() {
                        last.unwrap_or_default()
                    } else {
                        typed
                    };
                    match edit(&start) {
                        Ok(edited) if !edited.trim().is_empty() => line = edited.trim().to_string(),
                        Ok(_) => continue,
                        Err(e) => {
                            output::print_error(&mut stderr, &e);
                            continue;
                        }
                    }
                    output::print_echo(&mut std::io::stdout(), &line);
                }
                let _ = editor.add_history_entry(redact_sql(&line));
                if let Some(h) = &history {
                    let _ = editor.save_history(h);
                }
                match crate::sql::split::split(&line) {
                    Err(e) => output::print_error(&mut stderr, &e),
                    Ok(pieces) => {
                        for piece in pieces {
                            // Commands about the prompt itself are carried out here.
                            if let Piece::Meta { text, .. } = &piece {
                                match Meta::parse(text) {
                                    Ok(Meta::History(n)) => {
                                        let all: Vec<String> =
                                            editor.history().iter().cloned().collect();
                                        let skip = n.map_or(0, |n| all.len().saturating_sub(n));
                                        output::print_numbered(
                                            &mut std::io::stdout(),
                                            all.iter().enumerate().skip(skip),
                                        );
                                        continue;
                                    }
                                    Ok(Meta::Highlight(on)) => {
                                        let on = on.unwrap_or(!highlight.load(Ordering::Relaxed));
                                        highlight.store(on, Ordering::Relaxed);
                                        output::print_echo(
                                            &mut std::io::stdout(),
                                            if on { "highlight on" } else { "highlight off" },
                                        );
                                        continue;
                                    }
                                    _ => {}
                                }
                            }
                            match shell.run_piece(&piece).await {
                                Ok((_, Next::Quit)) => return Ok(0),
                                Ok((effect, Next::Continue)) => {
                                    if effect.changed {
                                        helper::refresh(&shell.engine, &names).await;
                                    }
                                }
                                Err(e) => {
                                    output::print_error(&mut stderr, &e);
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(LakeError::Prompt(e.to_string())),
        }
    }
    Ok(0)
}
