//! The `portico` command: `run` serves a config (a file or an etcd
//! document), `check` validates one, `config push` / `config get` write and
//! read the etcd document.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portico::app::App;
use portico::config::EtcdLocation;
use portico::control::reload::{EtcdSource, ReloadTrigger};
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
        /// The config: a file, or `etcd://HOST:PORT[,HOST:PORT]/PREFIX` for
        /// the document at `PREFIX/config`, watched and applied as it
        /// changes.
        #[arg(long, short)]
        config: String,
        /// For a config from etcd: what its relative paths (plugin_dir, TLS
        /// files, ...) resolve against; the working directory by default.
        #[arg(long)]
        base_dir: Option<PathBuf>,
        /// For a config from etcd: this instance's id in the cluster
        /// registry; `<hostname>-<pid>` by default.
        #[arg(long)]
        instance_id: Option<String>,
    },
    /// Validate a config, including each plugin's `init` with its route
    /// config and each listener's TLS files, and exit.
    Check {
        /// The config: a file or an `etcd://HOST:PORT/PREFIX` location.
        #[arg(long, short)]
        config: String,
        /// For a config from etcd: what its relative paths resolve against.
        #[arg(long)]
        base_dir: Option<PathBuf>,
    },
    /// The config document in etcd.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Plugin authors' tools.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// What a built plugin is and needs: name and version, contract
    /// version, size, SHA-256, the capabilities it imports (as the line to
    /// paste into its route entry), whether this gateway would load it,
    /// and its compile time. Exits 1 when it would not load.
    Inspect {
        /// The component (`target/wasm32-wasip2/release/NAME.wasm`).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Create a plugin NAME (in `./NAME` unless `--dir`): typed config,
    /// both phases, native unit tests, a README and the route entry; it
    /// builds into a component and passes its tests as created.
    New {
        /// The plugin's name (lowercase letters, digits, `-`).
        name: String,
        /// `rust` (a crate on the SDK, tested on its mock host), `python`
        /// (componentize-py) or `js` (ComponentizeJS).
        #[arg(long, default_value = "rust", value_parser = parse_lang)]
        lang: portico::scaffold::Lang,
        /// Where to create it (must not exist, or be empty).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A local `sdk/` directory to depend on; by default the SDK of
        /// the checkout this binary was built from.
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain through FILES (oldest first: `audit.jsonl.2
    /// audit.jsonl.1 audit.jsonl`); name the first broken or missing
    /// record and exit 1.
    Verify {
        /// The files, oldest first.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate FILE as `portico check` does, then write it to etcd, only
    /// over the revision expected (compare-and-swap).
    Push {
        /// The config file.
        file: PathBuf,
        /// `etcd://HOST:PORT[,HOST:PORT]/PREFIX`.
        #[arg(long)]
        to: String,
        /// The revision your change is based on (from `portico config
        /// get`); 0 when there must be no document yet. Without it, the
        /// revision read just before the write.
        #[arg(long)]
        expect_revision: Option<i64>,
    },
    /// Print the document in etcd (its revision goes to stderr).
    Get {
        /// `etcd://HOST:PORT[,HOST:PORT]/PREFIX`.
        #[arg(long)]
        from: String,
    },
}

/// `portico audit verify`: the chain's extent, or the first broken line.
fn verify_audit(files: &[PathBuf]) -> anyhow::Result<()> {
    let verified = portico::audit::verify_files(files)?;
    println!(
        "ok: {} records, {} to {}, last hash {}",
        verified.records, verified.first_seq, verified.last_seq, verified.head
    );
    if let Some(through) = verified.removed_by_retention {
        println!("records 1 to {through} were deleted by retention, as the chain records");
    }
    Ok(())
}

/// `--lang`'s value.
fn parse_lang(name: &str) -> Result<portico::scaffold::Lang, String> {
    portico::scaffold::Lang::from_name(name)
        .ok_or_else(|| format!("`{name}` is not a plugin language: use rust, python or js"))
}

/// `portico plugin new`.
fn new_plugin(
    name: &str,
    lang: portico::scaffold::Lang,
    dir: Option<PathBuf>,
    sdk_path: Option<PathBuf>,
) -> anyhow::Result<()> {
    use portico::scaffold::SdkSource;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let sdk = match sdk_path {
        Some(path) => SdkSource::Path(std::path::absolute(&path)?),
        None => SdkSource::default_for_this_build(),
    };
    for file in portico::scaffold::create(name, &dir, lang, &sdk)? {
        println!("created {}", file.display());
    }
    println!(
        "next:\n  {}   # then add route.toml's entry to a route",
        lang.next_steps(name, &dir)
    );
    Ok(())
}

/// `portico plugin inspect`.
async fn inspect(file: &std::path::Path, json: bool) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let engine = portico::data::runtime::engine::PluginEngine::new(&Default::default())?;
    let report = portico::data::runtime::inspect::inspect(&engine, &bytes)
        .await
        .with_context(|| file.display().to_string())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unknown)".into());
        println!("file:      {}", file.display());
        println!("name:      {}", or_unknown(&report.name));
        println!("version:   {}", or_unknown(&report.version));
        println!(
            "contract:  portico:plugin@{} (this gateway: {})",
            or_unknown(&report.contract),
            report.gateway_contract
        );
        println!("size:      {} bytes", report.size);
        println!("sha256:    {}", report.sha256);
        println!("compile:   {} ms", report.compile_ms);
        println!(
            "wasi:      {} imports (provided, sealed)",
            report.wasi.len()
        );
        println!("grant:     {}", report.capabilities_line());
        match (&report.declared, report.declaration_mismatch()) {
            (None, _) => println!("declared:  (not recorded: not built with the Rust SDK)"),
            (Some(declared), None) => println!(
                "declared:  {} (Plugin::CAPABILITIES, as imported)",
                portico::data::runtime::inspect::capabilities_line(declared)
            ),
            (Some(declared), Some(why)) => println!(
                "declared:  {} (Plugin::CAPABILITIES) — warning: it {why}",
                portico::data::runtime::inspect::capabilities_line(declared)
            ),
        }
        match &report.refused {
            None => println!("loads:     yes, with those capabilities granted"),
            Some(why) => println!("loads:     no: {why}"),
        }
    }
    match &report.refused {
        None => Ok(()),
        Some(why) => anyhow::bail!("{} would not load: {why}", file.display()),
    }
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
            Command::Run {
                config,
                base_dir,
                instance_id,
            } => run(config, base_dir, instance_id).await,
            Command::Check { config, base_dir } => match etcd_location(&config)? {
                Some(location) => check_etcd(location, base_dir).await,
                None => check(PathBuf::from(config)).await,
            },
            Command::Config(ConfigCommand::Push {
                file,
                to,
                expect_revision,
            }) => push(file, &to, expect_revision).await,
            Command::Config(ConfigCommand::Get { from }) => get(&from).await,
            Command::Audit(AuditCommand::Verify { files }) => verify_audit(&files),
            Command::Plugin(PluginCommand::Inspect { file, json }) => inspect(&file, json).await,
            Command::Plugin(PluginCommand::New {
                name,
                lang,
                dir,
                sdk_path,
            }) => new_plugin(&name, lang, dir, sdk_path),
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
    let config = checked(&path).await?;
    println!("{}", summary(&config).await?);
    Ok(())
}

/// The config file at `path`, checked as `portico check` does.
async fn checked(path: &std::path::Path) -> anyhow::Result<portico::config::Config> {
    match portico::config::load(path) {
        Ok(config) => Ok(config),
        Err(errors) => Err(with_plugin_errors(path, errors).await.into()),
    }
}

/// Builds the gateway `config` describes (each plugin's `init` run) and
/// loads its TLS files, as serving would; what was checked, in a line.
async fn summary(config: &portico::config::Config) -> anyhow::Result<String> {
    let gateway = Gateway::build(config).await?;
    // Certificates, keys and client CAs load as they would when serving,
    // and so do the encryption keys.
    portico::data::server::load_tls(config)?;
    if let Some(admin) = &config.admin {
        portico::data::server::load_admin_tls(admin)?;
    }
    portico::config::keyring(config)?;
    let plugins: usize = gateway.routes.iter().map(|r| r.chain.slots().len()).sum();
    Ok(format!(
        "{}: OK ({} routes, {} plugin instances initialized)",
        config.source.display(),
        gateway.routes.len(),
        plugins
    ))
}

/// `Some` for an `etcd://` location, `None` for a file name.
fn etcd_location(text: &str) -> anyhow::Result<Option<EtcdLocation>> {
    if EtcdLocation::is_location(text) {
        Ok(Some(EtcdLocation::parse(text)?))
    } else {
        Ok(None)
    }
}

async fn etcd_source(text: &str, base: Option<PathBuf>) -> anyhow::Result<EtcdSource> {
    let location = match etcd_location(text)? {
        Some(location) => location,
        None => anyhow::bail!("`{text}` is not an etcd://HOST:PORT/PREFIX location"),
    };
    let base = match base {
        Some(base) => base,
        None => std::env::current_dir()?,
    };
    Ok(EtcdSource::connect(location, base).await?)
}

async fn check_etcd(location: EtcdLocation, base: Option<PathBuf>) -> anyhow::Result<()> {
    let source = etcd_source(&location.to_string(), base).await?;
    let (config, _) = source.read().await?;
    println!("{}", summary(&config).await?);
    Ok(())
}

async fn push(file: PathBuf, to: &str, expected: Option<i64>) -> anyhow::Result<()> {
    let source = etcd_source(to, None).await?;
    let (config, text) = source.parse_file(&file)?;
    let checked = summary(&config).await?;
    let pushed = source.push(&text, expected).await?;
    println!("{checked}");
    match (pushed.written, pushed.previous) {
        (false, _) => println!(
            "{}: unchanged at revision {}",
            source.key(),
            pushed.revision
        ),
        (true, Some(previous)) => println!(
            "{}: pushed revision {} (replacing {previous})",
            source.key(),
            pushed.revision
        ),
        (true, None) => println!(
            "{}: pushed revision {} (the first)",
            source.key(),
            pushed.revision
        ),
    }
    Ok(())
}

async fn get(from: &str) -> anyhow::Result<()> {
    let source = etcd_source(from, None).await?;
    let key = source.key();
    match portico::etcd::document::get(&source.etcd, &key).await? {
        Some(document) => {
            eprintln!("{key}: revision {}", document.revision);
            print!("{}", document.text);
            Ok(())
        }
        None => anyhow::bail!("no config document at `{key}`"),
    }
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

async fn run(
    config: String,
    base: Option<PathBuf>,
    instance_id: Option<String>,
) -> anyhow::Result<()> {
    // Listen for signals before serving: a SIGTERM that arrives as soon as
    // the listeners are open must drain, not kill.
    let stop = shutdown_signal();
    let mut hangup = reload_signal();
    let app = match etcd_location(&config)? {
        Some(location) => {
            let base = match base {
                Some(base) => base,
                None => std::env::current_dir()?,
            };
            App::start_etcd(location, base, instance_id).await?
        }
        None => App::start(std::path::Path::new(&config)).await?,
    };
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
