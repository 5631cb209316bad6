//! The interactive prompt: multi-line statements ended by `;`, persistent history (secrets
//! redacted before they are saved), completion, Ctrl-C to cancel a running statement or clear
//! the line, Ctrl-D to exit.

mod helper;

use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::error::{LakeError, Result};
use crate::output;
use crate::shell::{Next, Shell};
use crate::sql::redact::redact_sql;
use helper::LakeHelper;

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
    let helper = LakeHelper::default();
    let names = helper.names();
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
                if line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(redact_sql(line.trim()));
                if let Some(h) = &history {
                    let _ = editor.save_history(h);
                }
                match crate::sql::split::split(line.trim()) {
                    Err(e) => output::print_error(&mut stderr, &e),
                    Ok(pieces) => {
                        for piece in pieces {
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
