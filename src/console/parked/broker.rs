//! [`ParkedQueue`] over the real parking queue (`topology.parking_queue`), through the code of
//! the `parked` commands (`amqp::parked`: `read`, `replay`, `delete`), so the console and the
//! command line see and act alike. One operation at a time per console process.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::queue::{ParkedError, ParkedListing, ParkedMessage, ParkedQueue};
use crate::amqp::{parked, AmqpError};
use crate::config::Settings;
use crate::security::DeploymentKey;

/// The parking queue of `settings`, replayed under the deployment key `key`.
pub struct BrokerParkedQueue {
    settings: Settings,
    key: Arc<DeploymentKey>,
    one_at_a_time: Mutex<()>,
}

impl BrokerParkedQueue {
    pub fn new(settings: Settings, key: Arc<DeploymentKey>) -> Self {
        Self {
            settings,
            key,
            one_at_a_time: Mutex::new(()),
        }
    }
}

impl From<AmqpError> for ParkedError {
    fn from(e: AmqpError) -> Self {
        ParkedError(e.to_string())
    }
}

impl BrokerParkedQueue {
    /// Up to `limit` messages (0: all), oldest first, none removed (`amqp::parked::read`).
    async fn read(&self, limit: usize) -> Result<Vec<ParkedMessage>, ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let read = parked::read(&self.settings, limit, "preauth-worker console").await?;
        Ok(read.into_iter().map(shown).collect())
    }
}

#[async_trait]
impl ParkedQueue for BrokerParkedQueue {
    async fn list(&self, limit: usize) -> Result<ParkedListing, ParkedError> {
        let items = self.read(limit).await?;
        Ok(ParkedListing { items })
    }

    async fn peek(&self, fp: &str) -> Result<Option<ParkedMessage>, ParkedError> {
        let items = self.read(0).await?;
        Ok(items.into_iter().find(|m| m.fingerprint == fp))
    }

    async fn replay(&self, fp: &str) -> Result<usize, ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let selection = parked::Selection::Fingerprint(fp.to_owned());
        Ok(parked::replay(&self.settings, &self.key, &selection)
            .await?
            .len())
    }

    async fn delete(&self, fp: &str) -> Result<usize, ParkedError> {
        let _one = self.one_at_a_time.lock().await;
        let selection = parked::Selection::Fingerprint(fp.to_owned());
        Ok(parked::delete(&self.settings, &selection).await?.len())
    }
}

/// A parked message as the console shows it: what `parked list` shows of it (ids only when the
/// body passes the worker's identification, the worker's own reason codes, the detail bounded),
/// its headers and its body.
fn shown(p: parked::Peeked) -> ParkedMessage {
    ParkedMessage {
        fingerprint: p.info.fingerprint,
        reason: p.info.reason,
        detail: p.info.detail,
        case_id: p.info.case_id,
        event_id: p.info.event_id,
        message_id: p.message_id,
        parked_at: p.info.parked_at,
        attempts: p.info.attempts,
        bytes: p.info.bytes,
        headers: p.headers,
        body: p.body,
        body_truncated: p.body_truncated,
    }
}
