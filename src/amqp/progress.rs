//! Progress events on the bus (`preauth.progress.v1`): published on the outcomes exchange with
//! routing key `progress.<step>`, persistent and publisher-confirmed but not `mandatory` (a
//! deployment with nothing bound to `progress.#` loses nothing: no case waits for them). All of
//! a delivery's events are sent together before their confirms are awaited, so they cost one
//! round trip.

use lapin::types::ShortString;
use lapin::BasicProperties;

use super::publisher::{Outgoing, Publisher, Sent};
use super::AmqpError;
use crate::case::{Progress, PROGRESS_SCHEMA_V1};

/// The AMQP properties of a progress event: message_id = progress_id, correlation_id =
/// event_id, type `preauth.progress.v1`, persistent, JSON, stamped with its step's time.
pub(crate) fn properties(p: &Progress) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(ShortString::from(p.progress_id.as_str()))
        .with_correlation_id(ShortString::from(p.event_id.as_str()))
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_type(ShortString::from(PROGRESS_SCHEMA_V1))
        .with_timestamp(u64::try_from(p.at.timestamp()).unwrap_or_default())
        .with_app_id(ShortString::from("preauth-worker"))
}

/// Publishes `events` on `exchange` in order, not mandatory: sends them all, then waits for
/// every confirm. Fails when one is not confirmed (nacked, timed out, the channel gone);
/// publishing them again is harmless (same ids).
pub(crate) async fn publish(
    publisher: &Publisher,
    exchange: &str,
    events: &[Progress],
) -> Result<(), AmqpError> {
    let mut messages = Vec::with_capacity(events.len());
    for p in events {
        messages.push(message(exchange, p)?);
    }
    Sent::confirm_all(publisher.send_all(messages).await?).await
}

/// A progress event ready to send on `exchange`: not mandatory, with [`properties`].
pub(crate) fn message(exchange: &str, p: &Progress) -> Result<Outgoing, AmqpError> {
    // Room for a typical progress event up front, as for the outcome.
    let mut body = Vec::with_capacity(640);
    serde_json::to_writer(&mut body, p).map_err(|e| AmqpError::Publish {
        target: exchange.to_owned(),
        reason: format!("progress event does not serialize: {e}"),
    })?;
    Ok(Outgoing {
        exchange: exchange.to_owned(),
        routing_key: p.routing_key(),
        body,
        properties: properties(p),
        mandatory: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Step;

    #[test]
    fn a_progress_event_carries_its_ids_in_the_amqp_properties() {
        let p = Progress::new(Step::Received, "C-1", "e-1", chrono::Utc::now(), 0, 0, 0);
        let props = properties(&p);
        let text = |v: &Option<ShortString>| v.as_ref().map(|s| s.as_str().to_owned());
        assert_eq!(text(props.message_id()), Some(p.progress_id.clone()));
        assert_eq!(text(props.correlation_id()), Some("e-1".to_owned()));
        assert_eq!(text(props.kind()), Some("preauth.progress.v1".to_owned()));
        assert_eq!(props.delivery_mode(), &Some(2));
    }
}
