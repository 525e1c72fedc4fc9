//! Dates and times as the outcome and progress events write them, written without the formatting
//! machinery.
//!
//! chrono's own `Serialize` goes through `fmt::Display` (and `Debug` for a date): about 1,900
//! instructions a value, five values a case, 3% of the worker's instructions. These write the same
//! text from the numbers: an RFC 3339 time in UTC with `Z` and as many fractional digits as the
//! value needs (none, 3, 6 or 9: chrono's `SecondsFormat::AutoSi`), and a date as `YYYY-MM-DD`.
//! A year outside 0–9999 or a leap second is left to chrono, which writes those its own way.
//! The test compares the two over a spread of values.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `2026-12-02T09:17:21.123Z`: chrono's text for a `DateTime<Utc>`.
pub(super) fn time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let nanos = t.nanosecond();
    let mut buf = [0u8; 30];
    let Some(mut at) = date_into(t.date_naive(), &mut buf) else {
        return t.serialize(s);
    };
    if nanos >= 1_000_000_000 {
        return t.serialize(s);
    }
    buf[at] = b'T';
    two(&mut buf[at + 1..], t.hour());
    buf[at + 3] = b':';
    two(&mut buf[at + 4..], t.minute());
    buf[at + 6] = b':';
    two(&mut buf[at + 7..], t.second());
    at += 9;
    let digits = if nanos == 0 {
        0
    } else if nanos.is_multiple_of(1_000_000) {
        3
    } else if nanos.is_multiple_of(1_000) {
        6
    } else {
        9
    };
    if digits > 0 {
        buf[at] = b'.';
        let mut n = nanos / 10u32.pow(9 - digits);
        for i in (0..digits as usize).rev() {
            buf[at + 1 + i] = digit(n);
            n /= 10;
        }
        at += 1 + digits as usize;
    }
    buf[at] = b'Z';
    at += 1;
    s.serialize_str(ascii(&buf[..at]))
}

/// [`time`] for an optional field (`null` when absent).
pub(super) fn opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => time(t, s),
        None => s.serialize_none(),
    }
}

/// `2026-12-02`: chrono's text for a `NaiveDate`.
pub(super) fn date<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 10];
    match date_into(*d, &mut buf) {
        Some(n) => s.serialize_str(ascii(&buf[..n])),
        None => d.serialize(s),
    }
}

/// [`date`] for an optional field (`null` when absent).
pub(super) fn opt_date<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => date(d, s),
        None => s.serialize_none(),
    }
}

/// Writes `YYYY-MM-DD` at the start of `buf` and returns its length; `None` for a year that does
/// not have four digits.
fn date_into(d: NaiveDate, buf: &mut [u8]) -> Option<usize> {
    let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
    two(buf, year / 100);
    two(&mut buf[2..], year % 100);
    buf[4] = b'-';
    two(&mut buf[5..], d.month());
    buf[7] = b'-';
    two(&mut buf[8..], d.day());
    Some(10)
}

/// Two decimal digits of `n` (below 100).
fn two(buf: &mut [u8], n: u32) {
    buf[0] = digit(n / 10);
    buf[1] = digit(n);
}

/// The last decimal digit of `n`.
fn digit(n: u32) -> u8 {
    // `n % 10` is below 10.
    b'0' + (n % 10) as u8
}

/// The buffer holds ASCII digits and separators only.
fn ascii(buf: &[u8]) -> &str {
    std::str::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "time")]
        t: DateTime<Utc>,
        #[serde(serialize_with = "opt_time")]
        ot: Option<DateTime<Utc>>,
        #[serde(serialize_with = "date")]
        d: NaiveDate,
        #[serde(serialize_with = "opt_date")]
        od: Option<NaiveDate>,
    }

    #[derive(Serialize)]
    struct Chronos {
        t: DateTime<Utc>,
        ot: Option<DateTime<Utc>>,
        d: NaiveDate,
        od: Option<NaiveDate>,
    }

    fn both(t: DateTime<Utc>, ot: Option<DateTime<Utc>>) -> (String, String) {
        let d = t.date_naive();
        let od = ot.map(|t| t.date_naive());
        let ours = serde_json::to_string(&Ours { t, ot, d, od }).expect("json");
        let chronos = serde_json::to_string(&Chronos { t, ot, d, od }).expect("json");
        (ours, chronos)
    }

    #[test]
    fn times_and_dates_are_written_as_chrono_writes_them() {
        let base = Utc
            .with_ymd_and_hms(2026, 12, 2, 9, 17, 21)
            .single()
            .expect("a time");
        let mut times = vec![
            base,
            base + Duration::milliseconds(120),
            base + Duration::microseconds(123_450),
            base + Duration::nanoseconds(1),
            base + Duration::nanoseconds(999_999_999),
            base + Duration::nanoseconds(100_000_000),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0)
                .single()
                .expect("year 0"),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .single()
                .expect("9999"),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0)
                .single()
                .expect("10000"),
            Utc.with_ymd_and_hms(-1, 6, 15, 12, 0, 0)
                .single()
                .expect("1 BC"),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        ];
        // A leap second: chrono keeps it in the nanoseconds.
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
            .expect("a leap second");
        times.push(Utc.from_utc_datetime(&leap));
        // A spread of instants with every kind of fraction, across centuries.
        let mut n: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2_000 {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let secs = (n >> 20).rem_euclid(253_402_300_799);
            let nanos = match n & 3 {
                0 => 0,
                1 => (n >> 8).rem_euclid(1000) * 1_000_000,
                2 => (n >> 8).rem_euclid(1_000_000) * 1_000,
                _ => (n >> 8).rem_euclid(1_000_000_000),
            };
            times.push(
                DateTime::<Utc>::from_timestamp(secs, u32::try_from(nanos).expect("nanos"))
                    .expect("in range"),
            );
        }
        for (i, t) in times.iter().enumerate() {
            let other = times.get(i + 1).copied();
            let (ours, chronos) = both(*t, other);
            assert_eq!(ours, chronos);
            let (ours, chronos) = both(*t, None);
            assert_eq!(ours, chronos);
        }
    }
}
