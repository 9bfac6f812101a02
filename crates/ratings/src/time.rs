//! Timestamps of ratings: seconds since the Unix epoch, parsed from integers or UTC dates.

/// Parses a CSV timestamp: an integer number of seconds since the Unix epoch (a leading `-`
/// allowed), or a UTC date `YYYY-MM-DD`, optionally followed by `THH:MM` or `THH:MM:SS` (a
/// space may stand for the `T`) and a `Z`. The error says what was expected.
///
/// ```
/// use cnmf_ratings::time::parse_timestamp;
/// assert_eq!(parse_timestamp("874965758"), Ok(874_965_758));
/// assert_eq!(parse_timestamp("1970-01-02"), Ok(86_400));
/// assert_eq!(parse_timestamp("1997-09-22T22:02:38Z"), Ok(874_965_758));
/// assert!(parse_timestamp("yesterday").is_err());
/// ```
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| format!("timestamp {text:?} is out of range"));
    }
    parse_date(t).ok_or_else(|| {
        format!(
            "timestamp {text:?} is neither whole seconds since 1970-01-01 nor a UTC date \
             YYYY-MM-DD[THH:MM[:SS]][Z]"
        )
    })
}

/// Seconds since the Unix epoch as a UTC time `YYYY-MM-DDTHH:MM:SSZ` (the inverse of
/// [`parse_timestamp`] for such text).
///
/// ```
/// use cnmf_ratings::time::{format_timestamp, parse_timestamp};
/// assert_eq!(format_timestamp(874_965_758), "1997-09-22T22:02:38Z");
/// assert_eq!(parse_timestamp(&format_timestamp(-1)), Ok(-1));
/// ```
pub fn format_timestamp(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS]][Z]` as seconds since the epoch, `None` when malformed.
fn parse_date(t: &str) -> Option<i64> {
    let t = t.strip_suffix('Z').unwrap_or(t);
    let (date, clock) = match t.find(['T', ' ']) {
        Some(p) => (&t[..p], Some(&t[p + 1..])),
        None => (t, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    if d.next().is_some() || !(1..=12).contains(&m) || day < 1 || day > days_in(y, m) {
        return None;
    }
    let secs = match clock {
        None => 0,
        Some(c) => {
            let mut f = c.split(':');
            let (h, min) = (num(f.next()?, 2)?, num(f.next()?, 2)?);
            let s = match f.next() {
                Some(s) => num(s, 2)?,
                None => 0,
            };
            if f.next().is_some() || h > 23 || min > 59 || s > 59 {
                return None;
            }
            h * 3600 + min * 60 + s
        }
    };
    Some(days_from_civil(y, m, day) * 86_400 + secs)
}

/// Exactly `width` ASCII digits as a number.
fn num(s: &str, width: usize) -> Option<i64> {
    (s.len() == width && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn days_in(y: i64, m: i64) -> i64 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_epoch_seconds() {
        // Known values: 2000-03-01 is 951868800, 2024-02-29T12:00Z is 1709208000.
        assert_eq!(parse_timestamp("2000-03-01"), Ok(951_868_800));
        assert_eq!(parse_timestamp("2024-02-29T12:00Z"), Ok(1_709_208_000));
        assert_eq!(parse_timestamp("2024-02-29 12:00:00"), Ok(1_709_208_000));
        assert_eq!(parse_timestamp("1969-12-31T23:59:59Z"), Ok(-1));
        assert_eq!(parse_timestamp(" -5 "), Ok(-5));
    }

    #[test]
    fn formatting_inverts_parsing_across_eras() {
        for t in [
            0,
            -1,
            951_868_800,
            1_709_208_000,
            -62_135_596_800,
            4_102_444_800,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(t)), Ok(t), "{t}");
        }
        assert_eq!(format_timestamp(1_709_208_000), "2024-02-29T12:00:00Z");
    }

    #[test]
    fn malformed_timestamps_are_errors() {
        for bad in [
            "",
            "-",
            "2023-02-29",
            "2023-13-01",
            "2023-1-01",
            "2023-01-01T24:00",
            "2023-01-01T10",
            "2023-01-01T10:00:00:00",
            "99999999999999999999",
            "1.5",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?}");
        }
    }
}
