//! Shell completions and the manual page come from the same command-line definition as --help.

use crate::support::{run, worker};

#[test]
fn completions_and_the_manual_page_name_every_command() {
    let commands = [
        "check",
        "process",
        "run",
        "topology",
        "parked",
        "publish",
        "watch",
        "payer-sim",
        "config",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = run(worker(&["completions", shell], &[]));
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for c in commands {
            assert!(text.contains(c), "{shell} completion lacks {c}");
        }
    }
    let out = run(worker(&["man"], &[]));
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH preauth-worker 1"), "{page}");
    for c in commands {
        assert!(
            page.contains(&c.replace('-', "\\-")),
            "the manual page lacks {c}"
        );
    }
    assert!(page.contains("78"), "the manual page lacks the exit codes");

    // An unknown shell is a usage error.
    let out = run(worker(&["completions", "nosh"], &[]));
    assert_eq!(out.status.code(), Some(64));
}
