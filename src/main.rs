//! The `hearth` binary: parses the command line and hands over to the library.

use clap::Parser;
use hearth::cli::{Cli, Command, ServeArgs, UserCommand};

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => match hearth::Server::start(args.into_config()).await {
            Ok(server) => match server.run_until_signal().await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hearth: {e}");
                    std::process::ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("hearth: cannot start: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    staff,
                    db,
                },
        } => match hearth::cli::user_create(&username, staff, &db) {
            Ok(msg) => {
                println!("{msg}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hearth: {e}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
