//! `perpx [--config FILE] [--listen ADDR] [--data-dir DIR]`: parse the command line, load and
//! validate the configuration, set up logging, then run the exchange. Nothing else lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use perpx::config::Config;

/// A multi-market perpetual-futures exchange.
#[derive(Parser, Debug)]
#[command(name = "perpx", version, about)]
struct Cli {
    /// Market configuration file.
    #[arg(long, default_value = "markets.toml")]
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
    if let Some(listen) = cli.listen {
        config.server.listen = listen;
    }
    if let Some(dir) = cli.data_dir {
        config.server.data_dir = dir;
    }
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
    tracing::info!(markets = config.markets.len(), config = %cli.config.display(), "perpx starting");
    match actix_web::rt::System::new().block_on(perpx::app::run(config)) {
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
