//! The `hearth` binary: parses the command line and hands over to the library.

use clap::Parser;
use hearth::cli::{Cli, Command, ServeArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match Cli::parse()
        .command
        .unwrap_or(Command::Serve(ServeArgs::default()))
    {
        Command::Serve(args) => serve(args),
        Command::Backup { path, db } => hearth::db::backup::backup(&db, &path)
            .map(|bytes| println!("backed up {db} to {path} ({bytes} bytes)")),
        // Blocking work (Argon2, SQLite): no async runtime is involved.
        Command::User { command } => command.run().map(|msg| println!("{msg}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async {
        let server = hearth::Server::start(args.into_config())
            .await
            .map_err(|e| format!("cannot start: {e}"))?;
        server.run_until_signal().await.map_err(|e| e.to_string())
    })
}
