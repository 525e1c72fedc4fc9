//! The W3C trace context on payer requests: `traceparent` (and `tracestate`) of a span, as HTTP
//! headers. Without a trace exporter no span has a context, and the map is empty.

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct Headers<'a>(&'a mut HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The trace headers of `span`, for a request made on its behalf.
pub(crate) fn trace_headers(span: &tracing::Span) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if span.is_disabled() {
        return headers;
    }
    TraceContextPropagator::new().inject_context(&span.context(), &mut Headers(&mut headers));
    headers
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_a_trace_exporter_a_payer_request_carries_no_trace_headers() {
        assert!(super::trace_headers(&tracing::info_span!("payer call")).is_empty());
    }
}
