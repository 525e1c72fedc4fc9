//! `preauth-worker ledger …`: `run` (also what `ledger` alone does), `migrate`, `user add`,
//! `user list`, `user disable`, and the hidden `seed` (synthetic events for benchmarks).

use std::io::{BufRead, IsTerminal, Write};

use tokio_util::sync::CancellationToken;

use super::{users, ConsoleHook, LedgerError};
use crate::amqp::AmqpError;
use crate::config::Settings;
use crate::exit;

/// The variable `ledger user add` reads the password from (else standard input).
pub const PASSWORD_ENV: &str = "PREAUTH_LEDGER_PASSWORD";

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LedgerCommand {
    /// Consume outcome and progress events into the ledger database until SIGTERM or SIGINT
    /// (what `ledger` alone does): migrations applied first, /livez and /readyz on
    /// ledger.ops_listen.
    Run,
    /// Apply the ledger database's migrations and exit.
    Migrate,
    /// Console accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Write about N synthetic events of the real formats (ids `seed-…`) through the ledger's
    /// write path and print the write rate: for benchmarks and page tests, never production.
    #[command(hide = true)]
    Seed {
        #[arg(long, value_name = "N")]
        events: u64,
        /// Publish them to topology.outcomes_exchange (confirmed) instead of writing them, for
        /// a running ledger to ingest.
        #[arg(long)]
        publish: bool,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum UserCommand {
    /// Add a console user, or change an existing user's password and role (which enables it
    /// again and ends its sessions). The password comes from PREAUTH_LEDGER_PASSWORD or, unset,
    /// one line of standard input; never from the command line.
    Add {
        /// 1 to 64 characters of letters, digits and . _ @ -
        name: String,
        /// staff: view and export; operator: also replay and delete parked messages, read the
        /// audit.
        #[arg(long, value_parser = ["staff", "operator"])]
        role: String,
    },
    /// List console users: name, role, enabled or disabled, created.
    List,
    /// Disable a console user and end its sessions.
    Disable { name: String },
}

fn fail(code: u8, e: impl std::fmt::Display) -> u8 {
    eprintln!("preauth-worker: {e}");
    code
}

/// The exit code of a ledger error.
pub fn exit_code(e: &LedgerError) -> u8 {
    match e {
        LedgerError::Database { .. } | LedgerError::Listen { .. } => exit::UNAVAILABLE,
        LedgerError::Broker(AmqpError::Inequivalent { .. }) => exit::CONFIG,
        LedgerError::Broker(_) => exit::UNAVAILABLE,
        LedgerError::Input(_) => exit::USAGE,
        LedgerError::Migrate(_) | LedgerError::Internal(_) => exit::SOFTWARE,
    }
}

/// Runs a `ledger` command; returns its exit code. `shutdown` ends `run` (the caller cancels
/// it on SIGTERM or SIGINT); `console` is started by `run` once the database is ready.
pub async fn execute(
    settings: Settings,
    command: Option<LedgerCommand>,
    shutdown: CancellationToken,
    console: Option<ConsoleHook>,
) -> u8 {
    let command = command.unwrap_or(LedgerCommand::Run);
    let serving = matches!(command, LedgerCommand::Run);
    let result = match command {
        LedgerCommand::Run => super::run(settings, shutdown, console)
            .await
            .map(|()| exit::OK),
        LedgerCommand::Migrate => migrate(&settings).await,
        LedgerCommand::User(cmd) => user(&settings, cmd).await,
        LedgerCommand::Seed { events, publish } if publish => {
            super::seed::publish(&settings, events)
                .await
                .map(|(sent, took)| {
                    println!(
                        "published {sent} events to {} in {:.2} s",
                        settings.topology.outcomes_exchange,
                        took.as_secs_f64()
                    );
                    exit::OK
                })
        }
        LedgerCommand::Seed { events, .. } => seed(&settings, events).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A service's log says why it stopped; a person's command only says it once.
            if serving {
                tracing::error!("Ledger stopped: {e}");
            }
            fail(exit_code(&e), e)
        }
    }
}

async fn migrate(settings: &Settings) -> Result<u8, LedgerError> {
    let pool = super::connect(&settings.ledger).await?;
    super::migrate(&pool).await?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .map_err(|e| LedgerError::database("reading the applied migrations", e))?;
    println!("ledger database migrated ({applied} migration(s) applied)");
    pool.close().await;
    Ok(exit::OK)
}

async fn seed(settings: &Settings, events: u64) -> Result<u8, LedgerError> {
    let pool = super::pool(settings).await?;
    let seeded = super::seed::seed(&pool, events).await?;
    println!(
        "seeded {} events ({} case events) in {:.2} s of writing: {:.0} events/s",
        seeded.events,
        seeded.case_events,
        seeded.elapsed.as_secs_f64(),
        seeded.rate()
    );
    pool.close().await;
    Ok(exit::OK)
}

async fn user(settings: &Settings, cmd: UserCommand) -> Result<u8, LedgerError> {
    // The name is checked before anything is asked or connected.
    match &cmd {
        UserCommand::Add { name, .. } | UserCommand::Disable { name } => users::check_name(name)?,
        UserCommand::List => {}
    }
    let password = match &cmd {
        UserCommand::Add { .. } => {
            let p = read_password()?;
            users::check_password(&p)?;
            Some(p)
        }
        _ => None,
    };
    let pool = super::pool(settings).await?;
    let code = match cmd {
        UserCommand::Add { name, role } => {
            let role = users::Role::parse(&role)
                .ok_or_else(|| LedgerError::Input("--role is staff or operator".to_owned()))?;
            let password = password.unwrap_or_default();
            match users::add(&pool, &name, role, &password).await? {
                users::Added::Created => println!("added user {name} ({role})"),
                users::Added::Updated => println!(
                    "user {name} existed: its password and role ({role}) were changed, it is enabled, and its sessions were ended"
                ),
            }
            exit::OK
        }
        UserCommand::List => {
            let all = users::list(&pool).await?;
            let mut out = String::new();
            for u in &all {
                out.push_str(&format!(
                    "{:<32} {:<9} {:<9} {}\n",
                    u.name,
                    u.role.as_str(),
                    if u.disabled { "disabled" } else { "enabled" },
                    u.created_at.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            if all.is_empty() {
                eprintln!("no users yet: add one with `preauth-worker ledger user add NAME --role staff|operator`");
            }
            let _ = std::io::stdout().write_all(out.as_bytes());
            exit::OK
        }
        UserCommand::Disable { name } => {
            if users::disable(&pool, &name).await? {
                println!("disabled user {name}; its sessions were ended");
                exit::OK
            } else {
                fail(exit::USAGE, format!("no user named {name}"))
            }
        }
    };
    pool.close().await;
    Ok(code)
}

/// The password: `PREAUTH_LEDGER_PASSWORD`, or one line of standard input (asked for, without
/// echo, on a terminal).
fn read_password() -> Result<String, LedgerError> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("Password for the new user (not shown): ");
        let _ = std::io::stderr().flush();
        echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        echo(true);
        eprintln!();
    }
    read.map_err(|e| LedgerError::Input(format!("reading the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(LedgerError::Input(format!(
            "no password: set {PASSWORD_ENV} or give it on standard input"
        )));
    }
    Ok(password)
}

/// Turns the terminal's echo off or on (best effort, through stty).
fn echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}
