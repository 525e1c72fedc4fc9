//! The parking queue as the console sees it: the trait, a parked message, the fingerprint.

use async_trait::async_trait;

/// One parked message.
#[derive(Debug, Clone)]
pub struct ParkedMessage {
    pub fingerprint: String,
    /// The worker's `x-preauth-reason` code, or `broker-dead-lettered`.
    pub reason: String,
    pub detail: String,
    pub case_id: Option<String>,
    pub event_id: Option<String>,
    pub message_id: Option<String>,
    pub parked_at: Option<String>,
    pub attempts: u32,
    pub bytes: usize,
    /// Every header, name and value as text, sorted by name.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced), at most `amqp.max_message_bytes` of it.
    pub body: String,
    pub body_truncated: bool,
}

impl ParkedMessage {
    /// The headers anyone signed in may see: a fixed list of the worker's bookkeeping names
    /// (codes, counts and times) and the broker's dead-lettering record. Everything else,
    /// whatever its name, is for operators only.
    pub fn own_headers(&self) -> Vec<(String, String)> {
        const SHOWN: [&str; 8] = [
            "x-preauth-reason",
            "x-preauth-parked-at",
            "x-preauth-attempts",
            "x-preauth-retries",
            "x-preauth-followups",
            "x-preauth-replays",
            "x-preauth-routing-key",
            "x-death",
        ];
        self.headers
            .iter()
            .filter(|(k, _)| SHOWN.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

/// What the parking queue holds, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ParkedListing {
    pub items: Vec<ParkedMessage>,
}

/// Why the parking queue could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParkedError(pub String);

/// The parking queue as the console uses it.
#[async_trait]
pub trait ParkedQueue: Send + Sync {
    /// Up to `limit` parked messages (0: all), oldest first, none removed.
    async fn list(&self, limit: usize) -> Result<ParkedListing, ParkedError>;
    /// The parked message of fingerprint `fp`, none removed.
    async fn peek(&self, fp: &str) -> Result<Option<ParkedMessage>, ParkedError>;
    /// Sends the messages of fingerprint `fp` back to the work queue; how many.
    async fn replay(&self, fp: &str) -> Result<usize, ParkedError>;
    /// Removes the messages of fingerprint `fp` for good; how many.
    async fn delete(&self, fp: &str) -> Result<usize, ParkedError>;
}
