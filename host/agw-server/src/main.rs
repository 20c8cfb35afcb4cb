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
    /// Print the effective configuration, one `ABSTRACTGATEWAY_*` setting a line, with where
    /// each value came from (`default` or `environment`); secrets are shown as `***`.
    Config,
    /// List, inspect, sign and verify plugins.
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
    /// Copy a file-backend data dir's runs, ledgers, commands and command cursor into a new
    /// SQLite database inside it. The files are left as they are.
    Migrate {
        #[arg(long, value_enum, default_value = "file")]
        from: Backend,
        #[arg(long, value_enum, default_value = "sqlite")]
        to: Backend,
        #[arg(long, env = "ABSTRACTGATEWAY_DATA_DIR", default_value = abstractgateway::config::DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Default `<data-dir>/gateway.sqlite3`; must be inside the data dir.
        #[arg(long, env = "ABSTRACTGATEWAY_DB_PATH")]
        db_path: Option<PathBuf>,
        /// Replace an existing database.
        #[arg(long)]
        overwrite: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    File,
    Sqlite,
}

#[derive(Debug, Subcommand)]
enum PluginsCommand {
    /// The plugins the gateway would load (first-party and the plugins directory).
    List {
        #[arg(long)]
        json: bool,
    },
    /// What one component implements, requests and would be granted, its digest and signature.
    Inspect { file: PathBuf },
    /// Write a first-party plugin's component to a file (to inspect or sign it).
    Export {
        name: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a signing key pair: a new secret key file (mode 0600) and, on stdout, the public key.
    ///
    /// An existing file is never overwritten. The public key line goes in
    /// ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS.
    Keygen {
        /// Where to write the secret key.
        #[arg(long, default_value = "plugin-signing.key")]
        out: PathBuf,
    },
    /// Sign a component: writes `<file.wasm>.sig` next to it and prints its path.
    Sign {
        /// The secret key file made by `plugins keygen`.
        #[arg(long)]
        key: PathBuf,
        file: PathBuf,
    },
    /// Check a component's `<file.wasm>.sig`; exits nonzero unless a trusted key signed it.
    Verify {
        file: PathBuf,
        /// Public keys to trust, `ed25519:<base64>`, separated by commas or whitespace.
        #[arg(long, env = "ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS", default_value = "", hide_env_values = true)]
        trusted_keys: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    commands::init_tracing();
    let result = match cli.command {
        Command::Serve { host, port, no_runner } => commands::serve(&host, port, no_runner),
        Command::Runner => commands::runner(),
        Command::Config => commands::config(),
        Command::Plugins { command: PluginsCommand::List { json } } => commands::plugins_list(json),
        Command::Plugins { command: PluginsCommand::Inspect { file } } => commands::plugins_inspect(&file),
        Command::Plugins { command: PluginsCommand::Export { name, out } } => commands::plugins_export(&name, &out),
        Command::Plugins { command: PluginsCommand::Keygen { out } } => commands::plugins_keygen(&out),
        Command::Plugins { command: PluginsCommand::Sign { key, file } } => commands::plugins_sign(&key, &file),
        Command::Plugins { command: PluginsCommand::Verify { file, trusted_keys } } => {
            commands::plugins_verify(&file, &trusted_keys)
        }
        Command::Pack { source, out } => commands::pack(&source, &out),
        Command::Migrate { from, to, data_dir, db_path, overwrite } => {
            if (from, to) == (Backend::File, Backend::Sqlite) {
                let db_path = db_path.unwrap_or_else(|| data_dir.join("gateway.sqlite3"));
                commands::migrate(&data_dir, &db_path, overwrite)
            } else {
                Err(anyhow::anyhow!("only --from=file --to=sqlite is supported"))
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("abstractgateway: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
