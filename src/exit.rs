//! Exit codes: one table for every command, after sysexits.h, so a script or a service manager
//! can tell a usage mistake from bad input, bad configuration or an unreachable broker.
//! docs/operations.md (and `preauth-worker --help`) print the same table.

/// Success.
pub const OK: u8 = 0;
/// The command ran, and its answer is "no": `check` found errors in the case.
pub const FINDINGS: u8 = 1;
/// The command line is wrong (an unknown flag, a missing argument): EX_USAGE.
pub const USAGE: u8 = 64;
/// An input could not be read as a case event (not JSON, not UTF-8, no identifiable event):
/// EX_DATAERR.
pub const DATA: u8 = 65;
/// No input: a file that does not exist or cannot be opened, or nothing given to read:
/// EX_NOINPUT.
pub const NO_INPUT: u8 = 66;
/// The broker or a payer cannot be reached, or refuses the credentials or the virtual host, after
/// the bounded number of tries: EX_UNAVAILABLE.
pub const UNAVAILABLE: u8 = 69;
/// A fault of the worker itself: EX_SOFTWARE.
pub const SOFTWARE: u8 = 70;
/// The configuration is invalid (the message names the key and the value): EX_CONFIG.
pub const CONFIG: u8 = 78;

/// Every code with its meaning, for help text and documentation.
pub const TABLE: [(u8, &str); 8] = [
    (OK, "success"),
    (FINDINGS, "check: the case has findings with errors"),
    (USAGE, "the command line is wrong"),
    (DATA, "an input could not be read as a case event"),
    (
        NO_INPUT,
        "no input: a missing or unreadable file, or nothing to read",
    ),
    (
        UNAVAILABLE,
        "the broker or a payer is unreachable or refuses the credentials or virtual host",
    ),
    (SOFTWARE, "a fault of the worker itself"),
    (
        CONFIG,
        "the configuration is invalid (the message names the key and the value)",
    ),
];
