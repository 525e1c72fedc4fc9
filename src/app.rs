//! Start-up: turns settings into the pieces every command shares (code table, policies, payers,
//! the pipeline), so tests build exactly what the binary builds.

use std::collections::HashMap;
use std::sync::Arc;

use crate::codes::CodeTable;
use crate::config::{Adapter, PayerSettings, Settings};
use crate::payer::simulator::{SimulatedPayer, SimulatorSettings};
use crate::payer::Payer;
use crate::pipeline::{Clock, PayerDirectory, PayerRoute, Pipeline};
use crate::retry::Schedule;
use crate::rules::Policies;

/// Why the worker cannot start with these settings.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Codes(#[from] crate::codes::CodeTableError),
    #[error(transparent)]
    Policy(#[from] crate::rules::PolicyError),
    #[error("payers.{payer}.policy: {source}")]
    PayerPolicy {
        payer: String,
        source: crate::rules::PolicyError,
    },
    #[error("payers.{payer}.adapter: {message}")]
    Adapter { payer: String, message: String },
}

/// What the commands share.
pub struct App {
    pub settings: Settings,
    pub codes: Arc<CodeTable>,
    pub policies: Policies,
    pub pipeline: Pipeline,
}

impl App {
    /// Loads the code table and policies and builds every configured payer.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(chrono::Utc::now))
    }

    pub fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let codes = Arc::new(match &settings.rules.code_table {
            Some(path) => CodeTable::from_file(path)?,
            None => CodeTable::embedded()?,
        });
        let policies = Policies::load(&codes, settings.rules.policy_dir.as_deref())?;
        let mut routes = HashMap::new();
        let mut default = None;
        for (id, payer_settings) in &settings.payers {
            let policy = policies.get(&payer_settings.policy).map_err(|source| {
                StartupError::PayerPolicy {
                    payer: id.clone(),
                    source,
                }
            })?;
            let payer = build_payer(id, payer_settings, &codes)?;
            let route = PayerRoute {
                name: id.clone(),
                payer,
                policy,
            };
            if id == "default" {
                default = Some(route);
            } else {
                routes.insert(id.clone(), route);
            }
        }
        let pipeline = Pipeline {
            codes: Arc::clone(&codes),
            payers: PayerDirectory::new(routes, default),
            retry: Schedule::new(settings.retry.delays.clone()),
            followup: Schedule::new(settings.followup.pended.clone()),
            in_process: settings.in_process_retry(),
            max_message_bytes: settings.amqp.max_message_bytes,
            clock,
        };
        Ok(Self {
            settings,
            codes,
            policies,
            pipeline,
        })
    }
}

fn build_payer(
    id: &str,
    s: &PayerSettings,
    codes: &Arc<CodeTable>,
) -> Result<Arc<dyn Payer>, StartupError> {
    match s.adapter {
        Adapter::Simulated => Ok(Arc::new(SimulatedPayer::new(
            Arc::clone(codes),
            SimulatorSettings {
                latency: s.latency.unwrap_or_default(),
                transient_failures: s.transient_failures,
                retry_after: s.retry_after,
            },
        ))),
        Adapter::FhirPas => Err(StartupError::Adapter {
            payer: id.to_owned(),
            message: "the fhir-pas adapter is not part of this build yet; use \"simulated\""
                .to_owned(),
        }),
    }
}
