//! Logging: readable text on a terminal, JSON lines otherwise. Log lines carry ids and codes
//! only; patient data never reaches them.
//!
//! Traces: with `telemetry.otlp_endpoint` set, the worker's own spans (consume, decide, payer
//! call, publish; their fields are ids and codes) are exported by OTLP/HTTP. Log events never
//! become span events, and the spans never appear in log lines: without an endpoint the logs are
//! what they always were.
//!
//! Whatever filter the operator sets (`log.level`, `RUST_LOG`), the libraries that see message
//! bodies, URLs with passwords or request payloads are capped at INFO, and lapin's report of a
//! returned message (which prints the whole body) is dropped: the worker reports returns itself,
//! by outcome id.

use std::io::IsTerminal;

use tracing::Metadata;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::registry::{LookupSpan, Registry};

use crate::config::{LogFormat, TelemetrySettings};

/// Library targets whose DEBUG and TRACE events carry frames, bodies or URLs.
const CAPPED: [&str; 8] = [
    "lapin",
    "amq_protocol",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower_http",
];

/// Whether an event may be written at all, whatever the filter says.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    if target.starts_with("lapin::returned_messages") {
        return false;
    }
    let capped = CAPPED.iter().any(|c| {
        target
            .strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    !capped || *meta.level() <= tracing::Level::INFO
}

/// The worker's own spans: the only ones exported, and never written to the log.
fn own_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("preauth_worker")
}

/// The running trace exporter, if any. Dropping it sends the spans not yet exported (bounded by
/// the exporter's timeout) and stops it: keep it until the command ends.
#[must_use = "dropping it stops the trace exporter"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// True while spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                tracing::warn!("Trace exporter did not shut down cleanly: {e}.");
            }
        }
    }
}

/// The trace exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("telemetry.otlp_endpoint: cannot start the OTLP trace exporter: {0}")]
pub struct TelemetryError(String);

/// The OTLP/HTTP traces URL of a collector endpoint: `/v1/traces` added unless the path ends
/// with it already.
pub fn traces_url(endpoint: &str) -> Result<String, TelemetryError> {
    let mut url = reqwest::Url::parse(endpoint.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            TelemetryError(
                "not an http:// or https:// URL; give one like http://otel-collector:4318".into(),
            )
        })?;
    if !url.path().ends_with("/v1/traces") {
        let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    Ok(url.into())
}

/// A layer installable on any subscriber `S`.
pub type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync>;

/// The layer that exports the worker's spans by OTLP, and the provider behind it (shut it down
/// to flush), when `settings` names an endpoint. Installable on any subscriber.
pub fn otlp_layer<S>(
    settings: &TelemetrySettings,
) -> Result<Option<(BoxedLayer<S>, SdkTracerProvider)>, TelemetryError>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let Some(endpoint) = settings.otlp_endpoint.as_deref() else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint)?)
        .build()
        .map_err(|e| TelemetryError(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("preauth-worker");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_filter(filter_fn(own_span))
        .boxed();
    Ok(Some((layer, provider)))
}

/// The log's filter: `level` (or `RUST_LOG`).
fn log_filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The log's writer: text or JSON lines on stderr, unfiltered.
fn log_writer<S>(format: LogFormat) -> BoxedLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        base.json().flatten_event(true).boxed()
    } else {
        base.boxed()
    }
}

/// The log and, when there is one, the span exporter, on one registry. The log is filtered by
/// `level` (or `RUST_LOG`), libraries capped as [`allowed`] says, the worker's own spans left
/// out.
///
/// With an exporter the log's filter is a per-layer filter, since the exporter wants the spans
/// the log leaves out. Without one the same filters are global: a callsite they refuse is then
/// never even built. (An absent exporter layer would count as interested in every callsite, so
/// every TRACE event of every library would be built and dropped; and the log's per-layer
/// filter alone on the registry lost INFO lines on a thread where sqlx had just run.)
fn subscriber(
    format: LogFormat,
    level: &str,
    otlp: Option<BoxedLayer<Layered<BoxedLayer<Registry>, Registry>>>,
) -> Box<dyn Subscriber + Send + Sync> {
    match otlp {
        Some(otlp) => {
            let filter = log_filter(level)
                .and(filter_fn(allowed))
                .and(filter_fn(|meta| !own_span(meta)));
            let log: BoxedLayer<Registry> = log_writer(format).with_filter(filter).boxed();
            Box::new(tracing_subscriber::registry().with(log).with(otlp))
        }
        None => Box::new(
            tracing_subscriber::registry()
                .with(log_filter(level))
                .with(filter_fn(allowed))
                .with(filter_fn(|meta| !own_span(meta)))
                .with(log_writer(format)),
        ),
    }
}

/// Installs the global subscriber, writing to stderr. `RUST_LOG` overrides `level`. With
/// `traces` naming an endpoint, the worker's spans are exported too, until the returned
/// [`Telemetry`] is dropped.
pub fn init(
    format: LogFormat,
    level: &str,
    traces: Option<&TelemetrySettings>,
) -> Result<Telemetry, TelemetryError> {
    let (otlp, provider) = match traces {
        Some(settings) => otlp_layer(settings)?.unzip(),
        None => (None, None),
    };
    // A second init (tests, embedding) keeps the first subscriber, and exports nothing.
    match subscriber(format, level, otlp).try_init() {
        Ok(()) => Ok(Telemetry { provider }),
        Err(_) => {
            if let Some(provider) = provider {
                let _ = provider.shutdown();
            }
            Ok(Telemetry { provider: None })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A callsite of the given target and level, as a library's event would have.
    macro_rules! callsite {
        ($name:ident, $target:literal, $level:expr) => {
            mod $name {
                use tracing::callsite::{Callsite, Identifier};
                use tracing::field::FieldSet;
                use tracing::metadata::Kind;
                use tracing::Metadata;
                pub(super) struct Site;
                impl Callsite for Site {
                    fn set_interest(&self, _: tracing::subscriber::Interest) {}
                    fn metadata(&self) -> &Metadata<'_> {
                        &META
                    }
                }
                static SITE: Site = Site;
                pub(super) static META: Metadata<'static> = Metadata::new(
                    "event",
                    $target,
                    $level,
                    None,
                    None,
                    None,
                    FieldSet::new(&[], Identifier(&SITE)),
                    Kind::EVENT,
                );
            }
        };
    }
    callsite!(lapin_trace, "lapin::promise", tracing::Level::TRACE);
    callsite!(own_info, "preauth_worker::amqp", tracing::Level::INFO);

    #[test]
    fn a_library_s_trace_event_is_never_built_when_only_the_log_is_written() {
        // The interest a callsite registers with is cached: `never` means its events are not
        // even formatted. lapin formats a string for each of its TRACE events when asked.
        for level in ["info", "trace"] {
            let log = subscriber(LogFormat::Json, level, None);
            assert!(
                log.register_callsite(&lapin_trace::META).is_never(),
                "{level}"
            );
            assert!(
                !log.register_callsite(&own_info::META).is_never(),
                "{level}"
            );
        }
    }

    #[test]
    fn the_traces_path_is_added_to_a_collector_endpoint_once() {
        let url = |e: &str| traces_url(e).expect("a URL");
        assert_eq!(
            url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            url("https://otlp.example.com/otlp/v1/traces"),
            "https://otlp.example.com/otlp/v1/traces"
        );
        assert_eq!(
            url("https://otlp.example.com/otlp?tenant=7"),
            "https://otlp.example.com/otlp/v1/traces?tenant=7"
        );
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("grpc://collector:4317").is_err());
    }

    #[test]
    fn only_the_workers_own_spans_are_exported_and_never_logged() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                &SITE_META
            }
        }
        static SITE: Site = Site;
        static SITE_META: Metadata<'static> = Metadata::new(
            "site",
            "test",
            tracing::Level::INFO,
            None,
            None,
            None,
            FieldSet::new(&[], Identifier(&SITE)),
            Kind::EVENT,
        );
        let meta = |target: &'static str, kind: Kind| {
            Metadata::new(
                "m",
                target,
                tracing::Level::INFO,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                kind,
            )
        };
        assert!(own_span(&meta("preauth_worker::amqp::worker", Kind::SPAN)));
        assert!(!own_span(&meta(
            "preauth_worker::amqp::worker",
            Kind::EVENT
        )));
        assert!(!own_span(&meta("hyper::client", Kind::SPAN)));
    }
}
