//! The `lakeshell` binary: parses flags and hands off to [`lakeshell::cli::run`].

use clap::Parser;

#[allow(clippy::print_stderr)] // the one message printed before lakeshell can print it
fn main() -> std::process::ExitCode {
    let cli = lakeshell::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let code = runtime.block_on(lakeshell::cli::run(cli));
    std::process::ExitCode::from(code as u8)
}
