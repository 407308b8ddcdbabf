//! `perpx [--config FILE] [--listen ADDR] [--data-dir DIR] [--follow | --promote | --gateway]`
//! and `perpx replay --data-dir D [--until SEQ] [--export-trades FILE.csv]`: parse the command
//! line, load and validate the configuration, set up logging, then run the exchange (as the
//! primary, a follower, a follower taking over, or a WebSocket gateway; the last three need
//! `[replication]`) or the replay tool. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use perpx::config::Config;
use perpx::replication::node::Mode;

/// A multi-market perpetual-futures exchange.
#[derive(Parser, Debug)]
#[command(name = "perpx", version, about)]
struct Cli {
    /// Market configuration file.
    #[arg(long, default_value = "markets.toml", global = true)]
    config: PathBuf,
    /// Address to listen on (overrides `server.listen`).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (overrides `server.data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Validate the configuration, print the markets and exit.
    #[arg(long)]
    check: bool,
    /// Follow the primary's journal stream (read-only; writes answer 503 NOT_PRIMARY).
    #[arg(long, conflicts_with_all = ["promote", "gateway"])]
    follow: bool,
    /// Follow, then take over as primary as soon as the stream is drained (fencing the old).
    #[arg(long, conflicts_with = "gateway")]
    promote: bool,
    /// Serve the public WebSocket channels from the events stream (no data directory).
    #[arg(long)]
    gateway: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Recompute the state of a data directory from its snapshot and journal; print the
    /// state hash and the invariant checks; export the fills replayed.
    Replay {
        /// The data directory to read (never written).
        #[arg(long)]
        data_dir: PathBuf,
        /// Stop after this journal sequence.
        #[arg(long)]
        until: Option<u64>,
        /// Write the fills replayed to this CSV file.
        #[arg(long)]
        export_trades: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("perpx: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Replay {
        data_dir,
        until,
        export_trades,
    }) = &cli.command
    {
        return replay(&config, data_dir, *until, export_trades.as_ref());
    }
    apply_overrides(&cli, &mut config);
    if cli.check {
        print!("{}", perpx::config::summary(&config));
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    perpx::app::fail_fast();
    if cli.gateway {
        return gateway(&cli, config);
    }
    serve(&cli, config)
}

/// `perpx replay`: print what the replay found; exit 3 if an invariant is broken.
fn replay(
    config: &Config,
    data_dir: &std::path::Path,
    until: Option<u64>,
    export_trades: Option<&PathBuf>,
) -> ExitCode {
    match perpx::replication::replay::replay(config, data_dir, until, export_trades) {
        Ok(r) => {
            print!("{r}");
            if r.invariants.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            }
        }
        Err(e) => {
            eprintln!("perpx replay: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--listen` and `--data-dir` over the configuration's values.
fn apply_overrides(cli: &Cli, config: &mut Config) {
    if let Some(listen) = cli.listen {
        // An advertised address left to its default follows the listen address.
        if let Some(r) = config.replication.as_mut() {
            if r.advertise == format!("http://{}", config.server.listen) {
                r.advertise = format!("http://{listen}");
            }
        }
        config.server.listen = listen;
    }
    if let Some(dir) = &cli.data_dir {
        config.server.data_dir = dir.clone();
    }
}

/// `--gateway`: serve the public channels from the events stream until a signal.
fn gateway(cli: &Cli, config: Config) -> ExitCode {
    tracing::info!(markets = config.markets.len(), config = %cli.config.display(), "perpx gateway starting");
    let listen = config.server.listen;
    let system = actix_web::rt::System::new();
    match system.block_on(perpx::replication::gateway::run(config, listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("perpx: gateway: {e}");
            ExitCode::from(1)
        }
    }
}

/// Run the exchange as the primary, a follower (`--follow`) or a follower taking over
/// (`--promote`) until a signal.
fn serve(cli: &Cli, config: Config) -> ExitCode {
    let mode = match (cli.follow, cli.promote) {
        (true, _) => Mode::Follow,
        (_, true) => Mode::Promote,
        _ => Mode::Primary,
    };
    tracing::info!(markets = config.markets.len(), config = %cli.config.display(), ?mode, "perpx starting");
    let system = actix_web::rt::System::new();
    match system.block_on(perpx::app::run_as(config, mode)) {
        Ok(()) => {
            tracing::info!("perpx stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("perpx: {e}");
            ExitCode::from(1)
        }
    }
}
