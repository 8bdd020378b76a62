//! Timestamps without a date-time crate: ISO-8601 parsing and formatting, and the epoch-seconds
//! numbers the CloudTrail JSON protocol uses. Every instant is an `i64` count of microseconds
//! since 1970-01-01T00:00:00Z (UTC), which is exact for the milliseconds the SDK sends and the
//! whole or fractional seconds CloudTrail records carry.

/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// A small cursor over ASCII bytes for the parser below.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

/// Parses an ISO-8601 / RFC 3339 instant as CloudTrail writes `eventTime`:
/// `2024-01-02T03:04:05Z`, with optional fractional seconds (`.5`, `.123456789`), `T` or a space
/// between date and time, and `Z`, a `±HH:MM` / `±HHMM` offset or no zone at all (taken as UTC).
/// Fractions below a microsecond are truncated. Returns `None` for anything else.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let mut c = Cursor { b: s.trim().as_bytes(), i: 0 };
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let sec = c.digits(2)?;
    let mut frac_us: i64 = 0;
    if c.eat(b'.') || c.eat(b',') {
        let mut scale = 100_000;
        let mut any = false;
        while let Some(ch) = c.peek().filter(u8::is_ascii_digit) {
            frac_us += i64::from(ch - b'0') * scale;
            scale /= 10;
            c.i += 1;
            any = true;
        }
        if !any {
            return None;
        }
    }
    let mut offset_secs: i64 = 0;
    match c.peek() {
        None => {}
        Some(b'Z' | b'z') => c.i += 1,
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh) * 3600 + i64::from(om) * 60;
            offset_secs = if sign == b'+' { off } else { -off };
        }
        Some(_) => return None,
    }
    if c.i != c.b.len() {
        return None;
    }
    let y = i64::from(y);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec) - offset_secs;
    Some(secs * MICROS_PER_SEC + frac_us)
}

/// Formats an instant as CloudTrail does: `2024-01-02T03:04:05Z`, with a fraction only when the
/// instant has one (trailing zeros removed).
pub fn format_iso8601(us: i64) -> String {
    let secs = us.div_euclid(MICROS_PER_SEC);
    let frac = us.rem_euclid(MICROS_PER_SEC);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let base = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
    if frac == 0 {
        format!("{base}Z")
    } else {
        let f = format!("{frac:06}");
        format!("{base}.{}Z", f.trim_end_matches('0'))
    }
}

/// Converts epoch seconds (as the SDK sends `StartTime`/`EndTime`, possibly fractional) to
/// microseconds, rounding to the nearest microsecond. `None` for NaN, infinities or values outside
/// years 0..10000.
pub fn epoch_secs_to_micros(secs: f64) -> Option<i64> {
    if !secs.is_finite() || !(-62_167_219_200.0..=253_402_300_799.0).contains(&secs) {
        return None;
    }
    Some((secs * MICROS_PER_SEC as f64).round() as i64)
}

/// The JSON number for an instant in epoch seconds: an integer when it falls on a whole second,
/// else a float with the fraction (what the SDK's `epoch-seconds` timestamp format reads).
pub fn micros_to_json_number(us: i64) -> serde_json::Number {
    if us % MICROS_PER_SEC == 0 {
        serde_json::Number::from(us / MICROS_PER_SEC)
    } else {
        serde_json::Number::from_f64(us as f64 / MICROS_PER_SEC as f64).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

/// Now, in microseconds since the epoch (0 if the clock is before 1970).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_cloudtrail_writes() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2026-03-01T09:00:00Z"), Some(1_772_355_600 * MICROS_PER_SEC));
        assert_eq!(parse_iso8601("2026-03-01T09:00:00.250Z"), Some(1_772_355_600 * MICROS_PER_SEC + 250_000));
        assert_eq!(parse_iso8601("2026-03-01 09:00:00"), Some(1_772_355_600 * MICROS_PER_SEC));
        assert_eq!(parse_iso8601("2026-03-01T10:00:00+01:00"), Some(1_772_355_600 * MICROS_PER_SEC));
        assert_eq!(parse_iso8601("2026-03-01T08:30:00-0030"), Some(1_772_355_600 * MICROS_PER_SEC));
        assert_eq!(parse_iso8601("2024-02-29T00:00:00Z"), Some(1_709_164_800 * MICROS_PER_SEC));
        for bad in [
            "redacted",
            "",
            "2023-02-29T00:00:00Z",
            "2024-01-01T00:00:00Zx",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        for s in
            ["1970-01-01T00:00:00Z", "2026-03-01T09:00:00Z", "1969-12-31T23:59:59.5Z", "2100-12-31T23:59:59.000001Z"]
        {
            let us = parse_iso8601(s).expect("parses");
            assert_eq!(format_iso8601(us), s);
        }
    }

    #[test]
    fn epoch_numbers() {
        assert_eq!(epoch_secs_to_micros(1_700_000_000.123), Some(1_700_000_000_123_000));
        assert_eq!(epoch_secs_to_micros(f64::NAN), None);
        assert_eq!(micros_to_json_number(1_700_000_000_000_000).to_string(), "1700000000");
        assert_eq!(micros_to_json_number(1_700_000_000_500_000).to_string(), "1700000000.5");
    }
}
