use std::time::Duration;

use super::*;

/// The series names and label sets a rendering holds (`name{labels}`, buckets and sums folded
/// into their histogram).
fn keys(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| k.to_owned()))
        .map(|k| {
            let (name, labels) = k.split_once('{').unwrap_or((&k, ""));
            let name = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|n| METRICS.iter().any(|m| m.name == *n))
                .unwrap_or(name);
            let labels: Vec<&str> = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty() && !l.starts_with("le="))
                .collect();
            format!("{name}{{{}}}", labels.join(","))
        })
        .collect()
}

#[test]
fn every_series_is_there_at_zero_after_registering() {
    let recorder = builder().expect("exporter").build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, register);
    let text = handle.render();
    let at_start = keys(&text);
    for s in series() {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        let key = format!("{}{{{}}}", s.name, labels.join(","));
        assert!(at_start.contains(&key), "{key} missing from:\n{text}");
    }
    for line in text.lines().filter(|l| l.starts_with("preauth_ledger_")) {
        let value = line.rsplit_once(' ').map_or("", |(_, v)| v);
        assert_eq!(value, "0", "{line}");
    }
}

#[test]
fn counting_writes_only_series_registered_at_start() {
    let recorder = builder().expect("exporter").build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        register();
        let at_start = keys(&handle.render());
        let written = Written {
            inserted: 3,
            outcomes: 2,
            progress: 1,
            case_events: 2,
        };
        committed(5, &written, Duration::from_millis(12));
        failed();
        for reason in dead_letter_reasons() {
            dead_lettered(reason);
        }
        set_ready(true);
        let text = handle.render();
        assert_eq!(keys(&text), at_start, "{text}");
        for want in [
            "preauth_ledger_events_written_total{kind=\"outcome\"} 2",
            "preauth_ledger_events_written_total{kind=\"progress\"} 1",
            "preauth_ledger_events_duplicate_total 2",
            "preauth_ledger_batches_total{result=\"committed\"} 1",
            "preauth_ledger_batches_total{result=\"failed\"} 1",
            "preauth_ledger_batch_size_bucket{le=\"5\"} 1",
            "preauth_ledger_batch_seconds_bucket{le=\"0.025\"} 1",
            "preauth_ledger_dead_lettered_total{reason=\"nul-character\"} 1",
            "preauth_ledger_dead_lettered_total{reason=\"database-refused\"} 1",
            "preauth_ledger_ready 1",
        ] {
            assert!(text.contains(want), "{want} not in:\n{text}");
        }
    });
}

#[test]
fn a_dead_letter_reason_is_the_code_the_log_line_gives() {
    for u in Unreadable::ALL {
        assert_eq!(u.code(), u.to_string());
    }
}

#[test]
fn the_reference_lists_every_metric_and_label_value() {
    let table = markdown_table();
    for m in METRICS {
        assert!(table.contains(&format!("| `{}` | {} |", m.name, m.kind.as_str())));
        for l in m.labels {
            for v in (l.values)() {
                assert!(table.contains(&format!("`{v}`")), "{v}");
            }
        }
    }
}
