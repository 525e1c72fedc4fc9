//! The `preauth-worker` binary: parse the command line, load the configuration, run a command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser, Subcommand};

use preauth_worker::amqp::client::{self, UrlOrigin};
use preauth_worker::amqp::publish_cli::{self, CasePublisher};
use preauth_worker::amqp::topology::Topology;
use preauth_worker::amqp::watch::{self, WatchOptions};
use preauth_worker::amqp::{parked, AmqpError};
use preauth_worker::app::App;
use preauth_worker::config::Settings;
use preauth_worker::inputs::{self, Entry, InputProblem};
use preauth_worker::ledger::cli::{self as ledger_cli, LedgerCommand};
use preauth_worker::payer::sim::server::{self as sim_server, Scenario};
use preauth_worker::payer::sim::{self, Faults};
use preauth_worker::startup::Application;
use preauth_worker::{batch, check, exit, telemetry};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output,
    /// e.g. `preauth-worker completions bash > /etc/bash_completion.d/preauth-worker`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output, e.g.
    /// `preauth-worker man > /usr/local/share/man/man1/preauth-worker.1`.
    Man,
    /// Validate case events and print the findings (exit 0 submittable, 1 findings with errors,
    /// 65 an input is not a case event, 66 nothing to read).
    Check {
        /// A file of case events (one JSON object, a JSON array, or JSON lines, told apart by
        /// looking), a folder of *.json/*.jsonl, or `-` for standard input.
        #[arg(required_unless_present = "rules")]
        file: Option<PathBuf>,
        /// Print the report as JSON (an array of reports when the input holds several case
        /// events), or the rule catalogue with --rules.
        #[arg(long)]
        json: bool,
        /// Print the rule catalogue (id, severity, what it checks) instead of checking a case.
        #[arg(long, conflicts_with = "file")]
        rules: bool,
        /// Check the rules only: do not fetch the photos and the letter from their stores.
        #[arg(long)]
        no_fetch: bool,
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
    /// Look at the parking queue, send parked messages back to the work queue after a fix, or
    /// delete them.
    #[command(subcommand)]
    Parked(ParkedCommand),
    /// Drive case events from files, folders or standard input to their outcomes, without a
    /// broker (exit 65 when an input is not a case event, 66 when there is nothing to read).
    Process {
        /// Files (one JSON object, a JSON array, or JSON lines, told apart by looking), folders
        /// of *.json/*.jsonl, or `-` for standard input (read when no input is named and it is
        /// not a terminal).
        inputs: Vec<PathBuf>,
        /// Write outcome events (JSON lines) here instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Send the photos and the letter as their URIs, without fetching them (a dry run).
        #[arg(long)]
        no_fetch: bool,
    },
    /// Send case events to the cases exchange (topology.cases_exchange) as a practice-management
    /// system would: routing key from each event's kind, message id its event_id, persistent,
    /// confirmed (exit 65 when an input is not a case event, 69 when a publish fails).
    Publish {
        /// Files of case events (one JSON object, a JSON array, or JSON lines), folders of
        /// *.json/*.jsonl, or `-` for standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print outcome events as they arrive, from a temporary queue bound to the outcomes exchange
    /// (topology.outcomes_exchange), until Ctrl-C or --count.
    Watch {
        /// Print each event's body (one JSON line) instead of status, case, outcome id and
        /// routing key.
        #[arg(long)]
        json: bool,
        /// Stop after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Binding key on the outcomes exchange (repeatable), e.g. `outcome.rejected`.
        #[arg(long = "key", value_name = "PATTERN", default_value = watch::EVERY_OUTCOME)]
        keys: Vec<String>,
    },
    /// Show the merged configuration (secrets masked), or check it without connecting.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The case ledger: write outcome and progress events to PostgreSQL (`ledger` alone is
    /// `ledger run`), migrate its database, manage console users.
    Ledger {
        #[command(subcommand)]
        command: Option<LedgerCommand>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the merged settings (shipped defaults, --config FILE, PREAUTH__ variables) as TOML,
    /// with URL passwords and the values of keys that hold a secret masked.
    Show,
    /// Load and validate everything `run` loads at start (settings, log filter, code table,
    /// policies, clinical vocabulary, payer credentials and secret files) without connecting:
    /// prints "configuration OK" (exit 0), or the problem naming the key (exit 78).
    Check,
}

#[derive(clap::Args)]
struct PayerSimArgs {
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, default_value = "127.0.0.1:9470", value_parser = parse_listen)]
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
    /// Decide a pended request this long after it was pended, and notify the matching PAS
    /// subscriptions then (unset: decide after the policy's rounds of inquiries).
    #[arg(long, value_parser = humantime::parse_duration)]
    decide_pended_after: Option<std::time::Duration>,
}

#[derive(Subcommand)]
enum ParkedCommand {
    /// Show parked messages (reason, case, when, attempts), oldest first, without removing them.
    List {
        /// Show at most this many (0: no limit).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// One JSON object per line (the same messages, in the same order).
        #[arg(long)]
        json: bool,
    },
    /// Send parked messages back to the work queue with a fresh attempt count: one case's
    /// (--case CASE_ID), one message (--fingerprint FP, as `parked list` shows it) or every one
    /// (--all); one of them is required.
    #[command(group(ArgGroup::new("selection").required(true).args(["case_id", "fingerprint", "all"])))]
    Replay {
        /// Replay the messages of this case only.
        #[arg(long = "case", value_name = "CASE_ID")]
        case_id: Option<String>,
        /// Replay the message with this fingerprint only.
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
        /// Replay every parked message.
        #[arg(long)]
        all: bool,
    },
    /// Remove parked messages for good: one case's (--case CASE_ID) or one message
    /// (--fingerprint FP, as `parked list` shows it); one of the two is required.
    #[command(group(ArgGroup::new("selection").required(true).args(["case_id", "fingerprint"])))]
    Delete {
        /// Delete the messages of this case.
        #[arg(long = "case", value_name = "CASE_ID")]
        case_id: Option<String>,
        /// Delete the message with this fingerprint.
        #[arg(long, value_name = "FP")]
        fingerprint: Option<String>,
    },
}

/// The parked messages a `--case` / `--fingerprint` / `--all` choice names.
fn parked_selection(case_id: Option<String>, fingerprint: Option<String>) -> parked::Selection {
    match (case_id, fingerprint) {
        (Some(id), _) => parked::Selection::Case(id),
        (_, Some(fp)) => parked::Selection::Fingerprint(fp),
        _ => parked::Selection::All,
    }
}

/// A listen address, with what to write when it is not one.
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse().map_err(|_| {
        "not an IP address and port; write one such as 127.0.0.1:9470 or [::]:9470 (not a host name)"
            .to_owned()
    })
}

/// Prints the error and returns the exit code.
fn fail(code: u8, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("preauth-worker: {e}");
    ExitCode::from(code)
}

/// The command line, or the exit code clap's answer calls for (help and version: 0; a usage
/// mistake: `exit::USAGE`, not clap's own 2).
fn parse() -> Result<Cli, ExitCode> {
    Cli::command()
        .after_help(exit::help_text())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
        .map_err(|e| {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            }
        })
}

/// `RUST_LOG`, when set, replaces `log.level`: it must be a filter that logs something.
fn rust_log_problem() -> Option<String> {
    let value = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    let why = preauth_worker::config::log_filter_problem(&value)?;
    Some(format!(
        "configuration: RUST_LOG = {}: {why}; write trace, debug, info, warn or error, or target=level directives such as \"info,lapin=warn\" (or unset it to use log.level)",
        preauth_worker::config::quoted(&value)
    ))
}

/// The exit code of a broker error: a refusal or an unreachable broker is `UNAVAILABLE`; a queue
/// declared with other arguments is the configuration's disagreement with the broker.
fn amqp_exit(e: &preauth_worker::amqp::AmqpError) -> u8 {
    match e {
        preauth_worker::amqp::AmqpError::Inequivalent { .. } => exit::CONFIG,
        _ => exit::UNAVAILABLE,
    }
}

/// jemalloc: a case makes many small allocations, which glibc's allocator served at a fifth of
/// the worker's CPU (docs/performance.md, third round).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if let Command::Check {
        rules: true, json, ..
    } = cli.command
    {
        return print_rules(json);
    }
    // Neither needs a configuration: they describe the command line itself.
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = Cli::command().after_help(exit::help_text());
            clap_complete::generate(shell, &mut cmd, "preauth-worker", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => {
            let cmd = Cli::command().after_help(exit::help_text());
            let mut out = Vec::new();
            return match clap_mangen::Man::new(cmd).render(&mut out) {
                Ok(()) => {
                    let _ = std::io::stdout().write_all(&out);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(exit::SOFTWARE, e),
            };
        }
        _ => {}
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(exit::CONFIG, e),
    };
    if let Some(problem) = rust_log_problem() {
        return fail(exit::CONFIG, problem);
    }
    if let Command::Config(ConfigCommand::Show) = cli.command {
        let _ = std::io::stdout().write_all(settings.show().as_bytes());
        return ExitCode::SUCCESS;
    }
    // Commands for a person at a terminal: only problems are logged unless asked.
    let level = match cli.command {
        Command::Check { .. }
        | Command::Process { .. }
        | Command::Publish { .. }
        | Command::Watch { .. }
        | Command::Config(_)
        | Command::Ledger {
            command:
                Some(LedgerCommand::User(_) | LedgerCommand::Migrate | LedgerCommand::Seed { .. }),
        } if settings.log.level == "info" => "warn".to_owned(),
        _ => settings.log.level.clone(),
    };
    // Commands a person runs on the broker say what went wrong themselves, first; lapin's own
    // report of the same error would come before it (RUST_LOG still shows it).
    let level = match cli.command {
        Command::Parked(_) | Command::Publish { .. } | Command::Watch { .. } => {
            format!("{level},lapin=off")
        }
        _ => level,
    };
    // Traces are for the commands that handle cases: `run` and `process`.
    let traces = matches!(cli.command, Command::Run | Command::Process { .. })
        .then_some(&settings.telemetry);
    let _telemetry = match telemetry::init(settings.log.format, &level, traces) {
        Ok(t) => t,
        Err(e) => return fail(exit::CONFIG, e),
    };
    // The ledger needs neither codes nor policies: only its settings.
    if let Command::Ledger { command } = cli.command {
        return run_ledger(settings, command);
    }
    let app = match App::build(settings) {
        Ok(app) => app,
        Err(e) if e.is_shipped() => return fail(exit::SOFTWARE, e),
        Err(e) => return fail(exit::CONFIG, e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                exit::SOFTWARE,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    match cli.command {
        // Answered before the configuration is read.
        Command::Completions { .. } | Command::Man | Command::Ledger { .. } => ExitCode::SUCCESS,
        Command::Config(_) => match preauth_worker::startup::check(&app) {
            Ok(()) => {
                println!("configuration OK");
                ExitCode::SUCCESS
            }
            Err(e) => fail(exit::CONFIG, e),
        },
        Command::Check {
            file,
            json,
            no_fetch,
            ..
        } => match file {
            Some(file) => {
                let pipeline = without_fetching(&app, no_fetch);
                let code = runtime.block_on(check::run_command(&pipeline, &file, json));
                ExitCode::from(code)
            }
            None => print_rules(json),
        },
        Command::Process {
            inputs,
            output,
            no_fetch,
        } => {
            let pipeline = without_fetching(&app, no_fetch);
            let run = batch::run(&app.settings, &pipeline, &inputs, output);
            ExitCode::from(runtime.block_on(run))
        }
        Command::Run => runtime.block_on(run_worker(app)),
        Command::Parked(cmd) => runtime.block_on(run_parked(&app, cmd, cli.config.as_deref())),
        Command::Publish { files } => {
            runtime.block_on(run_publish(&app, &files, cli.config.as_deref()))
        }
        Command::Watch { json, count, keys } => {
            let options = WatchOptions { keys, count, json };
            runtime.block_on(run_watch(&app, &options, cli.config.as_deref()))
        }
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
        Err(e) => return fail(exit::USAGE, format!("--policy {}: {e}", args.policy)),
    };
    let clients = match sim::clients::client_secrets(&args.clients)
        .and_then(|c| Ok((c, sim::clients::client_keys(&args.client_keys)?)))
    {
        Ok(c) => c,
        Err(e) => return fail(exit::USAGE, e),
    };
    let scenario = Scenario {
        faults: args.faults,
        token_lifetime: args.token_lifetime,
        clients: clients.0,
        client_keys: clients.1,
        decide_pended_after: args.decide_pended_after,
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return fail(
                exit::UNAVAILABLE,
                format!("--listen {}: cannot listen there: {e}", args.listen),
            )
        }
        Err(e) => {
            return fail(
                exit::USAGE,
                format!("--listen {}: cannot listen there: {e}", args.listen),
            )
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
        Err(e) => fail(exit::SOFTWARE, e),
    }
}

async fn run_parked(app: &App, cmd: ParkedCommand, config: Option<&Path>) -> ExitCode {
    let result = match cmd {
        ParkedCommand::List { limit, json } => parked::list(&app.settings, limit)
            .await
            .map(|listing| parked::render(&listing, &app.settings.topology.parking_queue, json)),
        ParkedCommand::Replay {
            case_id,
            fingerprint,
            all: _,
        } => {
            let selection = parked_selection(case_id, fingerprint);
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
        ParkedCommand::Delete {
            case_id,
            fingerprint,
        } => {
            let selection = parked_selection(case_id, fingerprint);
            parked::delete(&app.settings, &selection)
                .await
                .map(|items| {
                    format!(
                        "deleted {} message(s) from {}\n",
                        items.len(),
                        app.settings.topology.parking_queue
                    )
                })
        }
    };
    match result {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => broker_failure(&e, app, config),
    }
}

/// A broker error for a person, what to do first and the broker's own words after; exit 69.
fn broker_failure(e: &AmqpError, app: &App, config: Option<&Path>) -> ExitCode {
    // A refusal (credentials, virtual host, permission) is said plainly; only a broker that
    // cannot be reached gets the "where the URL came from" explanation.
    if e.refusal().is_some() || !client::is_connect_failure(e) {
        return fail(amqp_exit(e), e);
    }
    let origin = if std::env::var_os("PREAUTH__AMQP__URL").is_some() {
        UrlOrigin::Env
    } else {
        config.map_or(UrlOrigin::Default, |f| UrlOrigin::File(f.to_path_buf()))
    };
    let url = preauth_worker::amqp::redact_url(&app.settings.amqp.url);
    eprintln!(
        "preauth-worker: {}",
        client::unreachable_message(&url, &origin, e)
    );
    ExitCode::from(exit::UNAVAILABLE)
}

async fn run_publish(app: &App, files: &[PathBuf], config: Option<&Path>) -> ExitCode {
    let max = app.settings.amqp.max_message_bytes;
    let mut problems: Vec<InputProblem> = Vec::new();
    let mut unsendable = 0usize;
    let mut ready = Vec::new();
    for entry in inputs::read(files).entries {
        match entry {
            Entry::Event(item) => {
                // The ids and the key are kept; the event's tree borrows `item` and goes here.
                let screened = inputs::screen(&item, max).map(|event| {
                    (
                        publish_cli::routing_key(&event),
                        event.event_id,
                        event.case_id,
                    )
                });
                match screened {
                    Ok((Ok(key), event_id, case_id)) => {
                        ready.push((item, event_id, case_id, key));
                    }
                    Ok((Err(why), _, _)) => {
                        eprintln!("{}: not sent: {why}", item.label);
                        unsendable += 1;
                    }
                    Err(p) => problems.push(p),
                }
            }
            Entry::Problem(p) => problems.push(p),
        }
    }
    for p in &problems {
        eprintln!("{}", p.line());
    }
    let mut failed = 0usize;
    let mut sent = 0usize;
    if !ready.is_empty() {
        let publisher = match CasePublisher::open(&app.settings).await {
            Ok(p) => p,
            Err(e) => return broker_failure(&e, app, config),
        };
        for (item, event_id, case_id, key) in &ready {
            if !publisher.usable() {
                eprintln!(
                    "{}: not sent: the channel closed after an earlier error",
                    item.label
                );
                failed += 1;
                continue;
            }
            match publisher.send(&item.body, event_id, key).await {
                Ok(()) => {
                    sent += 1;
                    println!(
                        "{}: sent case {case_id} (event {event_id}) to {} as {key}",
                        item.label,
                        publisher.exchange()
                    );
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("{}: not sent: {e}", item.label);
                }
            }
        }
        publisher.close().await;
    }
    let unreadable = problems.len() + unsendable;
    eprintln!(
        "sent {}{}{}",
        batch::case_events(sent),
        if failed > 0 {
            format!(", {failed} not confirmed")
        } else {
            String::new()
        },
        if unreadable > 0 {
            format!(", {unreadable} input problem(s)")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        return ExitCode::from(exit::UNAVAILABLE);
    }
    match inputs::exit_code(&problems) {
        Some(code) => ExitCode::from(code),
        None if unsendable > 0 => ExitCode::from(exit::DATA),
        None => ExitCode::SUCCESS,
    }
}

async fn run_watch(app: &App, options: &WatchOptions, config: Option<&Path>) -> ExitCode {
    let print = |line: String| writeln!(std::io::stdout(), "{line}").is_ok();
    let ready = |what: String| eprintln!("{what}");
    match watch::watch(&app.settings, options, ready, print, wait_for_signal()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => broker_failure(&e, app, config),
    }
}

async fn run_worker(app: App) -> ExitCode {
    let shutdown = CancellationToken::new();
    let application = match Application::build(app, shutdown.clone()).await {
        Ok(a) => a,
        Err(e) if e.is_address_in_use() => return fail(exit::UNAVAILABLE, e),
        Err(e) => return fail(exit::CONFIG, e),
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
            fail(amqp_exit(&e), e)
        }
    }
}

/// `preauth-worker ledger …` on a runtime of its own; SIGTERM or SIGINT ends `ledger run` after
/// the batch in hand is written.
fn run_ledger(settings: Settings, command: Option<LedgerCommand>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                exit::SOFTWARE,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    let shutdown = CancellationToken::new();
    let code = runtime.block_on(async {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("Shutdown requested.");
            stop.cancel();
        });
        // `ledger run` serves the console beside the ingest; it replays parked messages under
        // the workers' deployment key.
        let console = match &command {
            None | Some(LedgerCommand::Run) => {
                let key_file = settings.security.key_file.as_deref();
                match preauth_worker::security::DeploymentKey::resolve(key_file) {
                    Ok(key) => Some(preauth_worker::console::ledger_hook(key)),
                    Err(e) => {
                        eprintln!("preauth-worker: {e}");
                        return exit::CONFIG;
                    }
                }
            }
            _ => None,
        };
        ledger_cli::execute(settings, command, shutdown, console).await
    });
    ExitCode::from(code)
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

/// The pipeline, with the document stores left out when `no_fetch`.
fn without_fetching(app: &App, no_fetch: bool) -> preauth_worker::pipeline::Pipeline {
    let mut pipeline = app.pipeline.clone();
    if no_fetch {
        pipeline.attachments = None;
    }
    pipeline
}
