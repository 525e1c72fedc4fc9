//! The W3C trace context on AMQP messages: `traceparent` (and `tracestate`) read from a case
//! event's headers, written on the outcome events. A malformed or absent `traceparent` is
//! ignored: the delivery starts a trace of its own. Without a trace exporter no span has a
//! context, and nothing is written.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C headers. `tracestate` is a vendor list that travels untouched; a longer one than the
/// recommendation's 512 characters is dropped rather than carried on.
const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const MAX_TRACESTATE: usize = 512;

/// Reads the trace headers of a message.
struct Headers<'a>(Option<&'a FieldTable>);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key != TRACEPARENT && key != TRACESTATE {
            return None;
        }
        let value = match self.0?.inner().get(key)? {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?,
            AMQPValue::ShortString(s) => s.as_str(),
            _ => return None,
        };
        (key == TRACEPARENT || value.len() <= MAX_TRACESTATE).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        [TRACEPARENT, TRACESTATE]
            .into_iter()
            .filter(|k| self.0.is_some_and(|t| t.contains_key(k)))
            .collect()
    }
}

/// Writes the trace headers of a message.
struct HeadersMut<'a>(&'a mut FieldTable);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(
            ShortString::from(key),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
}

/// The span of one delivery, continuing the publisher's trace when its headers carry one. Its
/// fields are filled in as the delivery is handled: the ids, then how it was settled.
pub(crate) fn consume_span(delivery: &lapin::message::Delivery, queue: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "consume",
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = queue,
        messaging.rabbitmq.redelivered = delivery.redelivered,
        messaging.message.body.size = delivery.data.len(),
        trace.continued = tracing::field::Empty,
        case_id = tracing::field::Empty,
        event_id = tracing::field::Empty,
        settle = tracing::field::Empty,
    );
    if !span.is_disabled() {
        let continued = continue_trace(&span, delivery.properties.headers().as_ref());
        span.record("trace.continued", continued);
    }
    span
}

/// The span of one publish: an outcome to `exchange`, or the case event to a queue (`exchange`
/// empty).
pub(crate) fn publish_span(exchange: &str, routing_key: &str) -> tracing::Span {
    let (destination, what) = if exchange.is_empty() {
        (routing_key, "case event")
    } else {
        (exchange, "outcome")
    };
    tracing::info_span!(
        "publish",
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.destination.name = destination,
        messaging.rabbitmq.destination.routing_key = routing_key,
        preauth.published = what,
        outcome_id = tracing::field::Empty,
        outcome_status = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// Makes the trace context in `headers`, when there is a valid one, the parent of `span`.
/// Returns whether it did.
pub(crate) fn continue_trace(span: &tracing::Span, headers: Option<&FieldTable>) -> bool {
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    if !cx.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(cx).is_ok()
}

/// Writes `span`'s trace context into `headers` (nothing when spans are not exported).
pub(crate) fn inject(span: &tracing::Span, headers: &mut FieldTable) {
    if span.is_disabled() {
        return;
    }
    TraceContextPropagator::new().inject_context(&span.context(), &mut HeadersMut(headers));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> FieldTable {
        let mut t = FieldTable::default();
        for (k, v) in pairs {
            t.insert(
                ShortString::from(*k),
                AMQPValue::LongString(LongString::from(*v)),
            );
        }
        t
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_read_and_a_malformed_one_is_not() {
        let read = |t: &FieldTable| {
            TraceContextPropagator::new()
                .extract(&Headers(Some(t)))
                .span()
                .span_context()
                .clone()
        };
        let good = read(&table(&[(TRACEPARENT, PARENT), (TRACESTATE, "vendor=a1")]));
        assert!(good.is_valid());
        assert_eq!(
            good.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(good.trace_state().get("vendor"), Some("a1"));
        for bad in [
            "",
            "00-zzzz",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(
                !read(&table(&[(TRACEPARENT, bad)])).is_valid(),
                "{bad:?} is read"
            );
        }
        let mut other_type = FieldTable::default();
        other_type.insert(ShortString::from(TRACEPARENT), AMQPValue::LongInt(7));
        assert!(!read(&other_type).is_valid());
        let long_state = format!("vendor={}", "a".repeat(MAX_TRACESTATE));
        let capped = read(&table(&[(TRACEPARENT, PARENT), (TRACESTATE, &long_state)]));
        assert!(capped.is_valid());
        assert_eq!(capped.trace_state().get("vendor"), None);
    }

    #[test]
    fn without_a_trace_exporter_a_delivery_writes_no_trace_headers() {
        let span = tracing::info_span!("consume");
        assert!(!continue_trace(
            &span,
            Some(&table(&[(TRACEPARENT, PARENT)]))
        ));
        let mut headers = FieldTable::default();
        inject(&span, &mut headers);
        assert!(headers.inner().is_empty());
    }
}
