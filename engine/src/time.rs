//! Simulated time: integer nanoseconds since the start of the run.
//!
//! Nothing in the engine reads a wall clock; `Time` only moves when the
//! simulation loop pops the next event. Durations are parsed from the way
//! humans write them (`"250ms"`, `"1m30s"`, `"1.5s"`).

use std::fmt;
use std::ops::{Add, Sub};

/// An instant of simulated time, in nanoseconds since the run began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);
    pub fn since(self, earlier: Time) -> Dur {
        Dur(self.0.saturating_sub(earlier.0))
    }
}

impl Dur {
    pub const ZERO: Dur = Dur(0);
    pub const fn nanos(n: u64) -> Dur {
        Dur(n)
    }
    pub const fn micros(n: u64) -> Dur {
        Dur(n * 1_000)
    }
    pub const fn millis(n: u64) -> Dur {
        Dur(n * 1_000_000)
    }
    pub const fn secs(n: u64) -> Dur {
        Dur(n * 1_000_000_000)
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn mul_f64(self, k: f64) -> Dur {
        Dur((self.0 as f64 * k).round().max(0.0) as u64)
    }
    pub fn saturating_mul(self, k: u64) -> Dur {
        Dur(self.0.saturating_mul(k))
    }
}

impl Add<Dur> for Time {
    type Output = Time;
    fn add(self, d: Dur) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}

impl Add for Dur {
    type Output = Dur;
    fn add(self, d: Dur) -> Dur {
        Dur(self.0.saturating_add(d.0))
    }
}

impl std::ops::Div<u64> for Dur {
    type Output = Dur;
    fn div(self, k: u64) -> Dur {
        Dur(self.0 / k.max(1))
    }
}

impl Sub for Dur {
    type Output = Dur;
    fn sub(self, d: Dur) -> Dur {
        Dur(self.0.saturating_sub(d.0))
    }
}

impl Time {
    /// The trace's rendering (`Display`), on the stack: `{:>4}.{:06}s` of
    /// the seconds and microseconds.
    pub fn ascii(self) -> crate::ascii::Ascii<28> {
        let us = self.0 / 1_000;
        let mut a = crate::ascii::Ascii::<28>::default();
        a.push_dec(us / 1_000_000, 4, b' ');
        a.push(b'.');
        a.push_dec(us % 1_000_000, 6, b'0');
        a.push(b's');
        a
    }
}

/// Trace form: seconds with microsecond precision, fixed width.
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ascii().as_str())
    }
}

/// Human form: the shortest exact rendering (`1m30s`, `250ms`, `1.5s`, `40us`).
impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return f.write_str("0s");
        }
        if n % 1_000_000_000 == 0 {
            let s = n / 1_000_000_000;
            return match (s / 3600, (s % 3600) / 60, s % 60) {
                (0, 0, s) => write!(f, "{s}s"),
                (0, m, 0) => write!(f, "{m}m"),
                (0, m, s) => write!(f, "{m}m{s}s"),
                (h, 0, 0) => write!(f, "{h}h"),
                (h, m, s) => write!(f, "{h}h{m}m{s}s"),
            };
        }
        let (div, unit) = match n {
            1_000_000_000.. => (1_000_000_000, "s"),
            1_000_000.. => (1_000_000, "ms"),
            1_000.. => (1_000, "us"),
            _ => return write!(f, "{n}ns"),
        };
        let mut a = crate::ascii::Ascii::<24>::default();
        if n >= 1 << 53 {
            // Past 104 days `n` itself rounds as a float: format the float
            // (at most 18,446,744,073.709, 15 characters).
            std::fmt::Write::write_fmt(&mut a, format_args!("{:.3}", n as f64 / div as f64))?;
            f.write_str(a.as_str().trim_end_matches('0').trim_end_matches('.'))?;
            return f.write_str(unit);
        }
        let (whole, milli) = three_decimals(n, div);
        a.push_dec(whole, 0, b'0');
        if milli > 0 {
            a.push(b'.');
            let (mut digits, mut m) = (3, milli);
            while m % 10 == 0 {
                (digits, m) = (digits - 1, m / 10);
            }
            a.push_dec(m, digits, b'0');
        }
        f.write_str(a.as_str())?;
        f.write_str(unit)
    }
}

/// `n / div` rounded to three decimals, as (whole, thousandths) — the
/// rounding of `{:.3}` of the float `n as f64 / div as f64`, which this
/// rendering has always used (and the traces show): below or above the
/// midpoint by the decimal digits; exactly at it, by the side of the
/// midpoint the float fell on, decided exactly in integers, and half to
/// even when the float is the midpoint itself (19366.4375 s is). For
/// `div <= n < 2^53` (`n` exact as a float).
fn three_decimals(n: u64, div: u64) -> (u64, u64) {
    let unit = div / 1000;
    let (whole, rem) = (n / div, n % div);
    let (mut milli, sub) = (rem / unit, rem % unit);
    let up = match (2 * sub).cmp(&unit) {
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Greater => true,
        // Is the float above the exact quotient? x = mant * 2^exp (x >= 1,
        // so exp <= 0 here): compare mant * div with n * 2^-exp.
        std::cmp::Ordering::Equal => {
            let bits = (n as f64 / div as f64).to_bits();
            let mant = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
            let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
            debug_assert!(exp <= 0);
            match (mant * u128::from(div)).cmp(&(u128::from(n) << (-exp) as u32)) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                // The float is the midpoint itself: half to even, as `{:.3}`.
                std::cmp::Ordering::Equal => milli % 2 == 1,
            }
        }
    };
    if up {
        milli += 1;
    }
    if milli == 1000 {
        return (whole + 1, 0);
    }
    (whole, milli)
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurError(pub String);

/// Parses `"250ms"`, `"1m30s"`, `"1.5s"`, `"2h"`, `"100us"`, `"10ns"`, `"0"`.
/// Units: ns, us (or µs), ms, s, m, h. Several parts add up.
pub fn parse_dur(text: &str) -> Result<Dur, DurError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurError("empty duration".into()));
    }
    if s == "0" {
        return Ok(Dur::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurError(format!("`{s}` has a number without a unit")))?;
        if num_len == 0 {
            return Err(DurError(format!("`{s}` does not start with a number")));
        }
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(DurError(format!("unknown unit `{other}` in `{s}` (units: ns, us, ms, s, m, h)"))),
        };
        let value: f64 = num.parse().map_err(|_| DurError(format!("`{num}` is not a number")))?;
        total = total.saturating_add((value * scale as f64).round() as u128);
        rest = next;
    }
    u64::try_from(total).map(Dur).map_err(|_| DurError(format!("`{s}` is too long (max ~584 years)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        assert_eq!(parse_dur("250ms"), Ok(Dur::millis(250)));
        assert_eq!(parse_dur("1m30s"), Ok(Dur::secs(90)));
        assert_eq!(parse_dur("1.5s"), Ok(Dur::millis(1500)));
        assert_eq!(parse_dur("2h"), Ok(Dur::secs(7200)));
        assert_eq!(parse_dur("100us"), Ok(Dur::micros(100)));
        // Components too large for 128 bits saturate (no overflow) and are refused.
        let huge = "9".repeat(40) + "h";
        assert!(parse_dur(&format!("{huge}{huge}")).is_err());
        assert_eq!(parse_dur("0"), Ok(Dur::ZERO));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse_dur("").is_err());
        assert!(parse_dur("5").is_err());
        assert!(parse_dur("5 parsecs").is_err());
        assert!(parse_dur("ms").is_err());
        assert!(parse_dur("1..2s").is_err());
    }

    #[test]
    fn displays_round_trip() {
        for s in ["250ms", "1m30s", "1.5s", "2h", "100us", "10ns", "131s", "2m11s"] {
            let d = parse_dur(s).unwrap();
            assert_eq!(parse_dur(&d.to_string()), Ok(d), "{s} -> {d}");
        }
        assert_eq!(Dur::secs(131).to_string(), "2m11s");
        assert_eq!(Time(3_200_000_000).to_string(), "   3.200000s");
    }
}
