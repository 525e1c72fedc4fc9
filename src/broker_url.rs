//! The broker URL as configured (`amqp.url`): the nodes it lists, the same with passwords
//! masked for logs and errors, and the heartbeat the worker asks for. Read by the configuration
//! (to validate it) and by the AMQP wing (to connect).

/// The broker URLs, in order: `amqp.url` may list several nodes of a cluster, comma-separated;
/// the worker tries the next one after a failed session.
pub fn broker_urls(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// The URL (or comma-separated URLs) with passwords masked, for logs and errors.
pub fn redact_url(url: &str) -> String {
    if url.contains(',') {
        return broker_urls(url)
            .into_iter()
            .map(redact_url)
            .collect::<Vec<_>>()
            .join(",");
    }
    // Whatever the URL's shape (even one that does not parse), everything between the start of
    // the user information and the last `@` after its first `:` is the password.
    let Some(at) = url.rfind('@') else {
        return redact_without_at(url);
    };
    let head = &url[..at];
    let start = head
        .find("://")
        .map(|i| i + 3)
        .or_else(|| head.rfind('/').map(|i| i + 1))
        .unwrap_or(0);
    match head[start..].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

/// A URL without user information may still be a mistyped one with a password in it
/// (`guest:PASSWORD`, `amqp://guest:PASSWORD`): after any `:` outside brackets that is not the
/// scheme's, anything but a port number is masked, up to the next `/`, `?` or `#`.
fn redact_without_at(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    let mut in_brackets = false;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        out.push(c);
        match c {
            '[' => in_brackets = true,
            ']' => in_brackets = false,
            ':' if !in_brackets && !rest.starts_with("//") => {
                let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                let (segment, after) = rest.split_at(end);
                if segment.chars().all(|c| c.is_ascii_digit()) {
                    out.push_str(segment);
                } else {
                    out.push_str("***");
                }
                rest = after;
            }
            _ => {}
        }
    }
    out
}

/// The URL with a heartbeat set (30 s) unless the operator chose one.
pub fn with_heartbeat(url: &str) -> String {
    if url.contains("heartbeat=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&heartbeat=30")
    } else {
        format!("{url}?heartbeat=30")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_a_redacted_url() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        assert_eq!(redact_url("amqp://[::1]:5672/%2f"), "amqp://[::1]:5672/%2f");
        assert_eq!(
            redact_url("amqp://h/%2f?heartbeat=30"),
            "amqp://h/%2f?heartbeat=30"
        );
        assert_eq!(redact_url("guest:PASSMARK"), "guest:***");
        // Malformed URLs too: the password never shows, whatever else is wrong.
        for bad in [
            "amqp//guest:PASSMARK@127.0.0.1:5672/%2f",
            "guest:PASSMARK@127.0.0.1",
            "amqp:/guest:PASSMARK@host",
            "amqp://guest:PASS@MARK@host",
            "http://u:PASSMARK@h/x",
            "guest:PASSMARK",
            "amqp://guest:PASSMARK",
            "amqp://guest:PASSMARK/%2f",
        ] {
            let shown = redact_url(bad);
            assert!(
                !shown.contains("PASSMARK") && !shown.contains("MARK@host"),
                "{bad} -> {shown}"
            );
        }
    }

    #[test]
    fn several_broker_urls_are_listed_in_order_and_redacted_each() {
        let urls = "amqp://u:p1@a:5672/%2f, amqp://u:p2@b:5672/%2f";
        assert_eq!(
            broker_urls(urls),
            vec!["amqp://u:p1@a:5672/%2f", "amqp://u:p2@b:5672/%2f"]
        );
        let shown = redact_url(urls);
        assert!(!shown.contains("p1") && !shown.contains("p2"), "{shown}");
    }

    #[test]
    fn a_heartbeat_is_added_unless_one_is_set() {
        assert_eq!(with_heartbeat("amqp://h/%2f"), "amqp://h/%2f?heartbeat=30");
        assert_eq!(
            with_heartbeat("amqp://h/%2f?x=1"),
            "amqp://h/%2f?x=1&heartbeat=30"
        );
        assert_eq!(
            with_heartbeat("amqp://h/%2f?heartbeat=10"),
            "amqp://h/%2f?heartbeat=10"
        );
    }
}
