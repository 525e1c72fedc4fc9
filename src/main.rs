//! The `preauth-worker` binary: parse the command line, load the configuration, run a command.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use preauth_worker::amqp::parked;
use preauth_worker::amqp::topology::Topology;
use preauth_worker::app::App;
use preauth_worker::config::Settings;
use preauth_worker::payer::sim::server::{self as sim_server, Scenario};
use preauth_worker::payer::sim::{self, Faults};
use preauth_worker::startup::Application;
use preauth_worker::{batch, check, telemetry};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Exit code for unusable configuration (EX_CONFIG-style, as sysexits' EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Parser)]
#[command(
    name = "preauth-worker",
    version,
    about = "Pre-authorization worker: validates cases, submits them to payers, publishes outcomes."
)]
struct Cli {
    /// TOML configuration layered over the shipped defaults (then PREAUTH__SECTION__KEY variables).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate one case event and print the findings (exit 0 submittable, 1 findings with errors, 2 unreadable).
    Check {
        /// The case event (JSON); `-` for standard input.
        #[arg(required_unless_present = "rules")]
        file: Option<PathBuf>,
        /// Print the report (or the rule catalogue) as JSON.
        #[arg(long)]
        json: bool,
        /// Print the rule catalogue (id, severity, what it checks) instead of checking a case.
        #[arg(long, conflicts_with = "file")]
        rules: bool,
    },
    /// Consume case events from RabbitMQ and publish outcomes until SIGTERM or SIGINT.
    Run,
    /// Print the broker topology the worker declares, or a RabbitMQ definitions file.
    Topology {
        /// Print a RabbitMQ definitions document (for `rabbitmqctl import_definitions`).
        #[arg(long)]
        definitions: bool,
        /// The virtual host to write into the definitions.
        #[arg(long, default_value = "/")]
        vhost: String,
    },
    /// Serve a simulated payer that speaks Da Vinci PAS ($submit, $inquire, /token), deciding by a policy.
    PayerSim(PayerSimArgs),
    /// Look at the parking queue, or send parked messages back to the work queue after a fix.
    #[command(subcommand)]
    Parked(ParkedCommand),
    /// Drive case events from files, folders or standard input to their outcomes, without a broker.
    Process {
        /// Files (one JSON object, a JSON array, or JSON lines), folders of *.json/*.jsonl, or `-`.
        inputs: Vec<PathBuf>,
        /// Write outcome events (JSON lines) here instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct PayerSimArgs {
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, default_value = "127.0.0.1:9470")]
    listen: std::net::SocketAddr,
    /// The payer policy to decide by.
    #[arg(long, default_value = "default")]
    policy: String,
    /// Slow answers and scripted failures (the settings `[payers.X]` of a simulated payer take).
    #[command(flatten)]
    faults: Faults,
    /// Require bearer tokens from /token, really valid this long.
    #[arg(long, value_parser = humantime::parse_duration)]
    token_lifetime: Option<std::time::Duration>,
    /// A client the token endpoint accepts, as ID=SECRET_FILE: its secret is read from that file
    /// (never from the command line, which every local user can read). Repeatable.
    #[arg(long = "client", value_name = "ID=SECRET_FILE")]
    clients: Vec<String>,
    /// A client that signs its assertions (SMART Backend Services), as ID=PUBLIC_KEY_PEM_FILE
    /// (repeatable).
    #[arg(long = "client-key", value_name = "ID=PEM_FILE")]
    client_keys: Vec<String>,
}

#[derive(Subcommand)]
enum ParkedCommand {
    /// Show parked messages (reason, case, when, attempts) without removing them.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send parked messages back to the work queue with a fresh attempt count.
    Replay {
        /// Only the messages of this case.
        #[arg(
            long = "case",
            value_name = "CASE_ID",
            conflicts_with = "all",
            required_unless_present = "all"
        )]
        case_id: Option<String>,
        /// Every parked message.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Check {
        rules: true, json, ..
    } = cli.command
    {
        return print_rules(json);
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Batch commands talk to a person on stderr: only problems are logged unless asked.
    let level = match cli.command {
        Command::Check { .. } | Command::Process { .. } if settings.log.level == "info" => {
            "warn".to_owned()
        }
        _ => settings.log.level.clone(),
    };
    // Traces are for the commands that handle cases: `run` and `process`.
    let traces = matches!(cli.command, Command::Run | Command::Process { .. })
        .then_some(&settings.telemetry);
    let _telemetry = match telemetry::init(settings.log.format, &level, traces) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let app = match App::build(settings) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("preauth-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Check { file, json, .. } => match file {
            Some(file) => run_check(&app, &file, json),
            None => print_rules(json),
        },
        Command::Process { inputs, output } => runtime.block_on(run_process(&app, &inputs, output)),
        Command::Run => runtime.block_on(run_worker(app)),
        Command::Parked(cmd) => runtime.block_on(run_parked(&app, cmd)),
        Command::PayerSim(args) => runtime.block_on(run_payer_sim(&app, args)),
        Command::Topology { definitions, vhost } => {
            let topology = Topology::from_settings(&app.settings);
            let text = if definitions {
                serde_json::to_string_pretty(&topology.definitions(&vhost)).unwrap_or_default()
                    + "\n"
            } else {
                topology.describe()
            };
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
    }
}

async fn run_payer_sim(app: &App, args: PayerSimArgs) -> ExitCode {
    let policy = match app.policies.get(&args.policy) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let clients = match sim::clients::client_secrets(&args.clients)
        .and_then(|c| Ok((c, sim::clients::client_keys(&args.client_keys)?)))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let scenario = Scenario {
        faults: args.faults,
        token_lifetime: args.token_lifetime,
        clients: clients.0,
        client_keys: clients.1,
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("preauth-worker: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    match sim_server::start(listener, policy, Arc::clone(&app.codes), scenario) {
        Ok(handle) => {
            tracing::warn!(addr = %handle.addr, policy = %args.policy, "Payer simulator listening.");
            eprintln!(
                "payer-sim listening on {} (policy {})",
                handle.base_url(),
                args.policy
            );
            wait_for_signal().await;
            handle.stop();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_parked(app: &App, cmd: ParkedCommand) -> ExitCode {
    let result = match cmd {
        ParkedCommand::List { limit, json } => parked::list(&app.settings, limit)
            .await
            .map(|items| parked::render(&items, &app.settings.topology.parking_queue, json)),
        ParkedCommand::Replay { case_id, all } => {
            let selection = match (case_id, all) {
                (Some(id), _) => parked::Selection::Case(id),
                _ => parked::Selection::All,
            };
            parked::replay(&app.settings, &app.key, &selection)
                .await
                .map(|items| {
                    format!(
                        "replayed {} message(s) to {}\n",
                        items.len(),
                        app.settings.topology.work_queue
                    )
                })
        }
    };
    match result {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_worker(app: App) -> ExitCode {
    let shutdown = CancellationToken::new();
    let application = match Application::build(app, shutdown.clone()).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("preauth-worker: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Shutdown requested.");
        shutdown.cancel();
    });
    match application.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("Cannot run: {e}");
            eprintln!("preauth-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (orchestrators, systemd) or SIGINT (a person at a terminal).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_rules(json: bool) -> ExitCode {
    let _ = std::io::stdout().write_all(check::catalogue(json).as_bytes());
    ExitCode::SUCCESS
}

fn run_check(app: &App, file: &PathBuf, json: bool) -> ExitCode {
    let body = if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(file)
    };
    let report = match body {
        Ok(body) => check::check(&app.pipeline, &body),
        Err(e) => {
            eprintln!("preauth-worker: cannot read {}: {e}", file.display());
            return ExitCode::from(check::EXIT_UNREADABLE as u8);
        }
    };
    let text = if json {
        serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .unwrap_or_default()
    } else {
        report.render()
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::from(report.exit_code() as u8)
}

async fn run_process(app: &App, inputs: &[PathBuf], output: Option<PathBuf>) -> ExitCode {
    let (items, problems) = batch::read_inputs(inputs);
    for p in &problems {
        eprintln!("{}: {}", p.label, p.message);
    }
    let out: Box<dyn Write + Send> = match &output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("preauth-worker: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => Box::new(std::io::stdout()),
    };
    match batch::process(
        &app.pipeline,
        items,
        app.settings.process.concurrency,
        out,
        true,
    )
    .await
    {
        Ok(mut summary) => {
            summary.input_problems = problems.len();
            eprint!("{}", summary.render());
            if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("preauth-worker: writing outcomes failed: {e}");
            ExitCode::FAILURE
        }
    }
}
