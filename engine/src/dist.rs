//! Delay distributions written as strings: `"3s"`, `"uniform(3s, 8s)"`,
//! `"normal(5s, 1s)"` (clamped at zero), `"exp(2s)"` (mean).

use crate::rng::Rng;
use crate::time::{parse_dur, Dur};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    Fixed(Dur),
    Uniform(Dur, Dur),
    Normal { mean: Dur, sd: Dur },
    Exp { mean: Dur },
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Fixed(Dur::ZERO)
    }
}

impl Delay {
    pub fn parse(text: &str) -> Result<Delay, String> {
        let s = text.trim();
        let Some(open) = s.find('(') else {
            return parse_dur(s).map(Delay::Fixed).map_err(|e| e.0);
        };
        let name = &s[..open];
        let inner = s[open + 1..].strip_suffix(')').ok_or_else(|| format!("`{s}` is missing its closing `)`"))?;
        let args: Vec<Dur> = inner.split(',').map(|a| parse_dur(a).map_err(|e| e.0)).collect::<Result<_, _>>()?;
        match (name.trim(), args.as_slice()) {
            ("uniform", [lo, hi]) if lo <= hi => Ok(Delay::Uniform(*lo, *hi)),
            ("uniform", [_, _]) => Err(format!("`{s}`: the low bound is above the high bound")),
            ("normal", [mean, sd]) => Ok(Delay::Normal { mean: *mean, sd: *sd }),
            ("exp", [mean]) => Ok(Delay::Exp { mean: *mean }),
            (other, _) => Err(format!(
                "`{other}(...)` with {} argument(s) is not a distribution \
                 (expected uniform(LO, HI), normal(MEAN, SD) or exp(MEAN))",
                args.len()
            )),
        }
    }

    /// Draws one delay. A fixed delay draws nothing, so it never shifts a stream.
    pub fn sample(&self, rng: &mut Rng) -> Dur {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform(lo, hi) => Dur(lo.0 + rng.below(hi.0 - lo.0 + 1)),
            Delay::Normal { mean, sd } => Dur((mean.0 as f64 + rng.normal() * sd.0 as f64).max(0.0) as u64),
            Delay::Exp { mean } => Dur((-(1.0 - rng.unit()).ln() * mean.0 as f64) as u64),
        }
    }

    /// The largest value this delay can take (the mean plus 4 sd / 10 means
    /// for unbounded ones); used by the shrinker and by bounds checks.
    pub fn upper(&self) -> Dur {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform(_, hi) => hi,
            Delay::Normal { mean, sd } => mean + sd.saturating_mul(4),
            Delay::Exp { mean } => mean.saturating_mul(10),
        }
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delay::Fixed(d) => write!(f, "{d}"),
            Delay::Uniform(a, b) => write!(f, "uniform({a}, {b})"),
            Delay::Normal { mean, sd } => write!(f, "normal({mean}, {sd})"),
            Delay::Exp { mean } => write!(f, "exp({mean})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_forms() {
        assert_eq!(Delay::parse("3s"), Ok(Delay::Fixed(Dur::secs(3))));
        assert_eq!(Delay::parse("uniform(3s, 8s)"), Ok(Delay::Uniform(Dur::secs(3), Dur::secs(8))));
        assert!(matches!(Delay::parse("normal(5s, 1s)"), Ok(Delay::Normal { .. })));
        assert!(matches!(Delay::parse("exp(2s)"), Ok(Delay::Exp { .. })));
        assert!(Delay::parse("uniform(8s, 3s)").is_err());
        assert!(Delay::parse("gauss(1s)").is_err());
        assert!(Delay::parse("uniform(3s, 8s").is_err());
    }

    #[test]
    fn uniform_stays_in_bounds() {
        let d = Delay::parse("uniform(3s, 8s)").unwrap();
        let mut r = Rng::fork(3, "t");
        for _ in 0..1000 {
            let x = d.sample(&mut r);
            assert!(x >= Dur::secs(3) && x <= Dur::secs(8));
        }
    }
}
