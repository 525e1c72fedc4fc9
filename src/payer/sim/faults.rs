//! The simulated payer's fault script: one set of settings that the configuration file
//! (`[payers.X] adapter = "simulated"`) and `preauth-worker payer-sim` both fill, and the one
//! function that decides which try of which request fails, for the in-process and the HTTP
//! simulator alike.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a simulated payer does besides deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, clap::Args)]
#[serde(default)]
pub struct Faults {
    /// Each answer takes this long ("0ms", "800ms", "2s").
    #[serde(with = "humantime_serde")]
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub latency: Duration,
    /// Only the first N tries of each request are slow (0: every try).
    #[arg(long, default_value_t = 0)]
    pub slow_first: u32,
    /// Answer the first N tries of each request with a transient failure (HTTP 503), after the
    /// throttled ones.
    #[serde(alias = "transient_failures")]
    #[arg(long, default_value_t = 0)]
    pub fail_first: u32,
    /// Answer the first N tries of each request with 429 Too Many Requests.
    #[arg(long, default_value_t = 0)]
    pub throttle_first: u32,
    /// Retry-After sent with 429 and 503 ("2s"; a bare number is seconds).
    #[serde(with = "humantime_serde")]
    #[arg(long, value_parser = parse_retry_after)]
    pub retry_after: Option<Duration>,
    /// Answer this percentage of tries with 503 or 429 (chosen per request and try, the same
    /// way every run: a stable hash, not a random generator).
    #[arg(long, default_value_t = 0)]
    pub flaky_percent: u8,
    /// Answer 200 with a body that is not a PAS response.
    #[arg(long)]
    pub malformed: bool,
    /// Answer 400 with an OperationOutcome.
    #[arg(long)]
    pub reject: bool,
    /// Ask for the photographs a policy requires when a request has none (every line pended,
    /// A4, with a PAS CommunicationRequest due in 14 days) instead of denying it; a request
    /// (an update) that carries them is then decided.
    #[arg(long)]
    pub request_information: bool,
    /// Modify (A6) a requested line: `FROM=TO` authorizes service code TO, with the units asked
    /// for, where FROM was requested and would be certified (PAS `addItem` names TO).
    #[arg(long)]
    pub substitute: Vec<String>,
    /// The HTTP simulator holds every `$submit` and `$inquire` Bundle to the PAS profiles
    /// ([`crate::payer::pas::profile::check`]) and answers 400 when it departs from them; on
    /// unless `profile_check = false` (`--profile-check false`), for tests that send
    /// deliberately odd bundles.
    #[arg(long, default_value = "true", value_parser = parse_profile_check)]
    pub profile_check: ProfileCheck,
}

/// Whether the profile check is on: on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ProfileCheck(pub bool);

impl Default for ProfileCheck {
    fn default() -> Self {
        Self(true)
    }
}

fn parse_profile_check(text: &str) -> Result<ProfileCheck, String> {
    text.trim()
        .parse::<bool>()
        .map(ProfileCheck)
        .map_err(|e| e.to_string())
}

/// A scripted failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503, with the Retry-After.
    Unavailable,
    /// 429, with the Retry-After.
    Throttled,
    /// 400 with an OperationOutcome.
    Rejected,
    /// 200 with a body that is not a PAS response.
    Malformed,
}

impl Faults {
    /// Whether the `try_number`-th try (1-based) of a request waits `latency`.
    pub fn slow(&self, try_number: u32) -> bool {
        !self.latency.is_zero() && (self.slow_first == 0 || try_number <= self.slow_first)
    }

    /// The failure scripted for the `try_number`-th try (1-based) of `request_identifier`.
    pub fn fault(&self, request_identifier: &str, try_number: u32) -> Option<Fault> {
        if self.flaky_percent > 0 {
            let h = crate::ids::stable_hash(&format!("{request_identifier}\u{1f}{try_number}"));
            if h % 100 < u64::from(self.flaky_percent) {
                return Some(if h.is_multiple_of(2) {
                    Fault::Unavailable
                } else {
                    Fault::Throttled
                });
            }
        }
        if try_number <= self.throttle_first {
            Some(Fault::Throttled)
        } else if try_number <= self.throttle_first + self.fail_first {
            Some(Fault::Unavailable)
        } else if self.reject {
            Some(Fault::Rejected)
        } else if self.malformed {
            Some(Fault::Malformed)
        } else {
            None
        }
    }

    /// The Retry-After header value: whole seconds, rounded up.
    pub(crate) fn retry_after_header(&self) -> Option<u64> {
        self.retry_after
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }
}

/// A Retry-After as a duration ("2s") or, as HTTP writes it, a whole number of seconds.
fn parse_retry_after(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(text.trim()).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_tries_come_first_then_unavailable_ones_then_the_answer() {
        let f = Faults {
            throttle_first: 1,
            fail_first: 2,
            ..Faults::default()
        };
        let got: Vec<Option<Fault>> = (1..=4).map(|n| f.fault("r", n)).collect();
        assert_eq!(
            got,
            vec![
                Some(Fault::Throttled),
                Some(Fault::Unavailable),
                Some(Fault::Unavailable),
                None
            ]
        );
    }

    #[test]
    fn the_config_file_and_the_command_line_fill_the_same_settings() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            faults: Faults,
        }
        let from_file: Faults =
            toml::from_str("latency = \"800ms\"\ntransient_failures = 2\nretry_after = \"3s\"\n")
                .expect("toml");
        let from_cli = <Cli as clap::Parser>::try_parse_from([
            "sim",
            "--latency",
            "800ms",
            "--fail-first",
            "2",
            "--retry-after",
            "3",
        ])
        .expect("args")
        .faults;
        assert_eq!(from_file, from_cli);
        assert_eq!(from_cli.retry_after_header(), Some(3));
    }

    #[test]
    fn the_profile_check_is_on_unless_turned_off() {
        assert_eq!(Faults::default().profile_check, ProfileCheck(true));
        let off: Faults = toml::from_str("profile_check = false\n").expect("toml");
        assert_eq!(off.profile_check, ProfileCheck(false));
    }

    #[test]
    fn only_the_first_tries_are_slow_when_slow_first_is_set() {
        let f = Faults {
            latency: Duration::from_millis(5),
            slow_first: 1,
            ..Faults::default()
        };
        assert!(f.slow(1));
        assert!(!f.slow(2));
        assert!(!Faults::default().slow(1));
    }
}
