//! `preauth-worker publish FILE…`: sends case events to the cases exchange the way a
//! practice-management integration should: the routing key from the event's `kind`, `message_id`
//! the event's `event_id`, a timestamp, JSON content type, persistent, mandatory, confirmed.

use lapin::types::ShortString;
use lapin::{BasicProperties, Connection};

use super::client;
use super::publisher::Publisher;
use super::AmqpError;
use crate::case::{Identified, Json, Kind};
use crate::config::Settings;

/// The routing key a case event goes out with, from its `kind` (docs/contract.md, section 2).
pub fn routing_key(event: &Identified<'_>) -> Result<&'static str, String> {
    let kinds = || {
        Kind::ALL
            .iter()
            .map(|k| format!("{:?}", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match event.body.get("kind") {
        Some(Json::String(k)) => Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == k)
            .map(Kind::routing_key)
            .ok_or_else(|| format!("its kind is none of {}: no routing key fits", kinds())),
        Some(_) => Err("its kind is not a string: no routing key fits".into()),
        None => Err(format!("it has no kind ({}): no routing key fits", kinds())),
    }
}

/// A connection to the cases exchange with publisher confirms.
pub struct CasePublisher {
    conn: Connection,
    publisher: Publisher,
    exchange: String,
    settings: Settings,
}

impl CasePublisher {
    /// Connects and checks that the cases exchange exists.
    pub async fn open(settings: &Settings) -> Result<Self, AmqpError> {
        let (conn, _channel) = client::open(settings, "preauth-worker publish").await?;
        let exchange = settings.topology.cases_exchange.clone();
        client::expect_exchange(&conn, settings, &exchange, "topology.cases_exchange").await?;
        let publisher = Publisher::open(&conn, settings.amqp.timeout).await?;
        Ok(Self {
            conn,
            publisher,
            exchange,
            settings: settings.clone(),
        })
    }

    /// The exchange case events go to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// Publishes one case event (its bytes as read) and waits for the broker's confirm. A nack,
    /// a return (nothing bound to the routing key) or a timeout is an error.
    pub async fn send(
        &self,
        body: &[u8],
        event_id: &str,
        routing_key: &str,
    ) -> Result<(), AmqpError> {
        let now = chrono::Utc::now().timestamp();
        let props = BasicProperties::default()
            .with_message_id(ShortString::from(event_id))
            .with_timestamp(u64::try_from(now).unwrap_or_default())
            .with_content_type(ShortString::from("application/json"))
            .with_app_id(ShortString::from("preauth-worker publish"))
            .with_delivery_mode(2);
        self.publisher
            .publish(&self.exchange, routing_key, body, props)
            .await
    }

    /// False once the channel is gone (a broker error closes it): later sends would fail too.
    pub fn usable(&self) -> bool {
        self.publisher.usable()
    }

    /// Closes the connection.
    pub async fn close(self) {
        client::close(self.conn, &self.settings).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The routing key of an event of this `kind` (none when null).
    fn key_of(kind: Value) -> Result<&'static str, String> {
        let mut body = serde_json::json!({"event_id": "e-1", "case_id": "c-1"});
        if !kind.is_null() {
            body["kind"] = kind;
        }
        let bytes = serde_json::to_vec(&body).expect("json");
        routing_key(&crate::case::identify(&bytes).expect("identified"))
    }

    #[test]
    fn the_routing_key_follows_the_kind_of_the_event() {
        assert_eq!(key_of(Value::from("submission")), Ok("case.submitted"));
        assert_eq!(key_of(Value::from("appeal")), Ok("case.appeal"));
        for bad in [Value::from("Appeal"), Value::from(3), Value::Null] {
            let why = key_of(bad.clone()).expect_err("no key");
            assert!(why.contains("no routing key fits"), "{bad}: {why}");
        }
    }
}
