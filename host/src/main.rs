//! The `portico` command: `run` serves a config, `check` validates one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portico::app::App;
use portico::control::reload::ReloadTrigger;
use portico::data::gateway::Gateway;

/// Portico, a programmable API gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve traffic with the given config.
    Run {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config, including each plugin's `init` with its route
    /// config and each listener's TLS files, and exit.
    Check {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

/// mimalloc: the request path allocates and frees small objects on each
/// worker thread; glibc's malloc showed up at ~9% of the gateway's CPU
/// under load (see README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    // The control plane (admin, reloads, discovery, health checks, the
    // monitor); traffic is served by the worker threads (`[runtime]
    // workers`), each with a runtime of its own.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("portico-control")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("portico: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run { config } => run(config).await,
            Command::Check { config } => check(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portico: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn check(path: PathBuf) -> anyhow::Result<()> {
    let config = match portico::config::load(&path) {
        Ok(config) => config,
        Err(errors) => return Err(with_plugin_errors(&path, errors).await.into()),
    };
    let gateway = Gateway::build(&config).await?;
    // Certificates, keys and client CAs load as they would when serving.
    portico::data::server::load_tls(&config)?;
    let plugins: usize = gateway.routes.iter().map(|r| r.chain.slots().len()).sum();
    println!(
        "{}: OK ({} routes, {} plugin instances initialized)",
        path.display(),
        gateway.routes.len(),
        plugins
    );
    Ok(())
}

/// A refused config's errors, and the plugin `init` errors of what is left
/// of it once the broken parts are set aside, so one `portico check` shows
/// both.
async fn with_plugin_errors(
    path: &std::path::Path,
    mut errors: portico::config::ConfigErrors,
) -> portico::config::ConfigErrors {
    let Ok(text) = std::fs::read_to_string(path) else {
        return errors;
    };
    if let Some(salvaged) = portico::config::salvage(path, &text, &errors)
        && let Err(more) = Gateway::build(&salvaged.config).await
    {
        errors.0.extend(salvaged.renumber(more.0));
    }
    errors
}

async fn run(path: PathBuf) -> anyhow::Result<()> {
    // Listen for signals before serving: a SIGTERM that arrives as soon as
    // the listeners are open must drain, not kill.
    let stop = shutdown_signal();
    let mut hangup = reload_signal();
    let app = App::start(&path).await?;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(()) = hangup.recv() => {
                app.reloader().reload_config(ReloadTrigger::Signal).await;
            }
        }
    }
    tracing::info!("shutting down: draining in-flight requests");
    app.shutdown().await;
    Ok(())
}

/// Yields on each SIGHUP (never elsewhere).
fn reload_signal() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hangup) => {
                tokio::spawn(async move {
                    while hangup.recv().await.is_some() {
                        let _ = tx.try_send(());
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; reload with the admin API")
            }
        }
    }
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C); the handlers are installed when
/// this is called, not when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
