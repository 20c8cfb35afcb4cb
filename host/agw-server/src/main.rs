//! `abstractgateway`: the durable run gateway.

mod commands;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "abstractgateway",
    version,
    about = "Durable run gateway: runs .flow bundles with sandboxed WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (and, unless --no-runner, the runner) on one data dir.
    Serve {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Serve only the API; a separate `abstractgateway runner` does the work.
        #[arg(long)]
        no_runner: bool,
    },
    /// Run only the runner: apply commands and tick runs, no HTTP.
    Runner,
    /// Inspect plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Pack a directory bundle (manifest.json + flows/) into a deterministic `.flow` file.
    Pack {
        /// The bundle directory.
        source: PathBuf,
        /// Where to write `<bundle_id>@<version>.flow`.
        #[arg(long, short, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// The plugins the gateway would load (first-party and the plugins directory).
    List {
        #[arg(long)]
        json: bool,
    },
    /// What one component implements and requests.
    Inspect { file: PathBuf },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    commands::init_tracing();
    let result = match cli.command {
        Command::Serve { host, port, no_runner } => commands::serve(&host, port, no_runner),
        Command::Runner => commands::runner(),
        Command::Plugins { command: PluginsCommand::List { json } } => commands::plugins_list(json),
        Command::Plugins { command: PluginsCommand::Inspect { file } } => commands::plugins_inspect(&file),
        Command::Pack { source, out } => commands::pack(&source, &out),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("abstractgateway: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
