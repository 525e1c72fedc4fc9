//! The broker's limit on this machine: bare lapin consume → publish-with-confirm → ack loops in
//! this process, on the same queues, message, persistence and prefetch as the worker, without
//! any of its work.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use crate::rig::{broker_cpu, now_ms, proc_stats, Figures, Rig};

/// How the passthrough talks to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The simplest: one connection, a consuming and a confirming channel.
    Bare,
    /// Separate consuming and publishing connections (the worker's shape before this round).
    TwoConnections,
}

impl Shape {
    pub fn label(self) -> &'static str {
        match self {
            Shape::Bare => "bare passthrough (1 connection, 2 channels)",
            Shape::TwoConnections => "passthrough, 2 connections",
        }
    }
}

/// The consuming and the confirming channel of a passthrough, and the connections to close.
pub struct Channels {
    pub consume: Channel,
    pub publish: Channel,
    pub connections: Vec<Connection>,
}

impl Channels {
    pub async fn open(url: &str, shape: Shape, prefetch: u16) -> Self {
        let first = Connection::connect(url, ConnectionProperties::default())
            .await
            .expect("connect");
        let second = match shape {
            Shape::Bare => None,
            Shape::TwoConnections => Some(
                Connection::connect(url, ConnectionProperties::default())
                    .await
                    .expect("connect"),
            ),
        };
        let publish = second
            .as_ref()
            .unwrap_or(&first)
            .create_channel()
            .await
            .expect("channel");
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        let consume = first.create_channel().await.expect("channel");
        consume
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .expect("qos");
        Self {
            consume,
            publish,
            connections: std::iter::once(first).chain(second).collect(),
        }
    }

    pub async fn close(self) {
        for c in self.connections {
            let _ = c.close(200, "done".into()).await;
        }
    }
}

/// Consumes the work queue and passes every delivery on to the outcomes exchange: a task per
/// delivery, publish (mandatory, persistent) with confirm, then ack. Runs until `n` deliveries
/// have been taken; the event id (read from the body) becomes the correlation id, as the
/// worker's outcomes carry it.
pub fn pump(rig: &Rig, channels: &Channels, n: usize) -> tokio::task::JoinHandle<()> {
    let consume = channels.consume.clone();
    let publish = channels.publish.clone();
    let queue = rig.topology.work_queue.clone();
    let outcomes = Arc::new(rig.topology.outcomes_exchange.clone());
    tokio::spawn(async move {
        let mut consumer = consume
            .basic_consume(
                ShortString::from(queue.as_str()),
                ShortString::from("pt"),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let mut taken = 0;
        while taken < n {
            let Some(Ok(d)) = consumer.next().await else {
                break;
            };
            taken += 1;
            let publish = publish.clone();
            let outcomes = Arc::clone(&outcomes);
            tokio::spawn(async move {
                let corr = {
                    let v: serde_json::Value = serde_json::from_slice(&d.data).unwrap_or_default();
                    v["event_id"].as_str().unwrap_or_default().to_owned()
                };
                let confirm = publish
                    .basic_publish(
                        ShortString::from(outcomes.as_str()),
                        ShortString::from("outcome.approved"),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &d.data,
                        BasicProperties::default()
                            .with_delivery_mode(2)
                            .with_correlation_id(ShortString::from(corr)),
                    )
                    .await
                    .expect("publish");
                let _ = confirm.await;
                let _ = d.acker.ack(BasicAckOptions::default()).await;
            });
        }
    })
}

/// Drains a backlog of `n` case events through the passthrough of `shape`.
pub async fn drain(url: &str, n: usize, prefetch: u16, shape: Shape, tag: &str) -> Figures {
    let rig = Rig::new(url, tag).await;
    rig.load(n).await;
    let channels = Channels::open(url, shape, prefetch).await;
    let start = now_ms();
    let sent = rig.drain_start(n, start);
    let started = Instant::now();
    let cpu_before = proc_stats(std::process::id()).1;
    let broker_before = broker_cpu();
    let pump = pump(&rig, &channels, n);
    let latencies = rig.collect(n, &sent, |_| {}).await;
    let elapsed = started.elapsed().as_secs_f64();
    let _ = pump.await;
    let (hwm, cpu) = proc_stats(std::process::id());
    channels.close().await;
    rig.cleanup().await;
    // The passthrough shares this process with the loader and collector: its memory and CPU are
    // the whole bench process's.
    Figures::of(
        format!("{}, prefetch {prefetch}", shape.label()),
        latencies,
        elapsed,
        hwm,
        cpu - cpu_before,
    )
    .with_broker(broker_before)
}
