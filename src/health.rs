//! What the worker knows about its own health, shared between the consumer and the probes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Readiness inputs, updated by the AMQP layer.
#[derive(Debug, Default)]
pub struct Health {
    connected: AtomicBool,
    consuming: AtomicBool,
    blocked: AtomicBool,
    publish_failing: AtomicBool,
    reconnects: AtomicU64,
}

impl Health {
    pub(crate) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Relaxed);
        if !v {
            self.consuming.store(false, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_consuming(&self, v: bool) {
        self.consuming.store(v, Ordering::Relaxed);
    }

    pub(crate) fn set_blocked(&self, v: bool) {
        self.blocked.store(v, Ordering::Relaxed);
    }

    pub(crate) fn set_publish_failing(&self, v: bool) {
        self.publish_failing.store(v, Ordering::Relaxed);
    }

    pub(crate) fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn consuming(&self) -> bool {
        self.consuming.load(Ordering::Relaxed)
    }

    pub(crate) fn blocked(&self) -> bool {
        self.blocked.load(Ordering::Relaxed)
    }

    pub(crate) fn publish_failing(&self) -> bool {
        self.publish_failing.load(Ordering::Relaxed)
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Ready: connected, consuming, publishing not blocked by a broker alarm and not failing.
    pub fn ready(&self) -> bool {
        self.connected() && self.consuming() && !self.blocked() && !self.publish_failing()
    }
}
