//! Seed sweeps: run one scenario under many seeds in parallel (rayon; every
//! run single-threaded and independent), report how flaky it is, group the
//! failing seeds by the expectation that failed, and give the command that
//! replays the first of each group. A sweep can be split into shards for a
//! batch system and the shards' JSON results merged.
//!
//! Invariant: no wall clock here either — time a sweep from the outside.

use crate::output::expect::Kind;
use crate::run::{run, Overrides};
use crate::scenario::Loaded;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The outcome of one seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedResult {
    pub seed: u64,
    pub passed: bool,
    /// Texts of the expectations that failed (and "event bound" when hit).
    pub failed: Vec<String>,
    /// Texts of the `Sometimes` expectations seen in this run.
    pub seen: Vec<String>,
    pub fingerprint: String,
    pub events: u64,
}

/// The results of a sweep (or of one shard of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    pub scenario: String,
    pub first: u64,
    pub end: u64,
    pub shard: Option<(u32, u32)>,
    /// The `Sometimes` expectations of the scenario.
    pub sometimes: Vec<String>,
    pub results: Vec<SeedResult>,
}

/// Runs one seed.
pub fn run_seed(loaded: &Loaded, seed: u64) -> SeedResult {
    let r = run(loaded, Overrides { seed: Some(seed), ..Overrides::default() });
    let mut failed: Vec<String> = vec![];
    let mut seen: Vec<String> = vec![];
    for (e, o) in loaded.expect.iter().zip(&r.outcomes) {
        match (&e.kind, o.held) {
            (Kind::Sometimes, true) => seen.push(o.text.clone()),
            (Kind::Sometimes, false) | (_, true) => {}
            (_, false) => failed.push(o.text.clone()),
        }
    }
    if r.stop == crate::sim::Stop::EventBound {
        failed.push("run stopped at the event bound".into());
    }
    SeedResult { seed, passed: failed.is_empty(), failed, seen, fingerprint: r.fingerprint(), events: r.world.events }
}

/// The most worker threads a sweep starts (`--jobs` above it is clamped).
pub const MAX_JOBS: usize = 1024;

/// The most seeds one run sweeps: every seed's result is kept for the
/// report (about 150 bytes each), so the range is bounded up front.
pub const MAX_SEEDS: u64 = 10_000_000;

/// How many seeds of `first..end` shard `k` of `n` holds (all without a shard).
pub fn seed_count(first: u64, end: u64, shard: Option<(u32, u32)>) -> u64 {
    let all = end.saturating_sub(first);
    match shard {
        None => all,
        Some((k, n)) => all.saturating_sub(u64::from(k - 1)).div_ceil(u64::from(n)),
    }
}

/// Seeds `first..end`, keeping those of shard `k` of `n` (1-based; seed index modulo n).
pub fn shard_seeds(first: u64, end: u64, shard: Option<(u32, u32)>) -> Vec<u64> {
    (first..end).filter(|s| shard.is_none_or(|(k, n)| (s - first) % u64::from(n) == u64::from(k - 1))).collect()
}

/// Runs the sweep on `jobs` threads, with a progress bar when `progress`.
pub fn sweep(
    loaded: &Loaded,
    file: &str,
    first: u64,
    end: u64,
    shard: Option<(u32, u32)>,
    jobs: usize,
    progress: bool,
) -> Sweep {
    let seeds = shard_seeds(first, end, shard);
    let bar = if progress { ProgressBar::new(seeds.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {per_sec}  eta {eta}")
            .unwrap_or(ProgressStyle::default_bar()),
    );
    let one = |&s: &u64| {
        let r = run_seed(loaded, s);
        bar.inc(1);
        r
    };
    // No more threads than seeds (nor than MAX_JOBS); if the system cannot
    // start them, the sweep runs on this thread: same results, in seed order.
    let threads = jobs.clamp(1, seeds.len().clamp(1, MAX_JOBS));
    let mut results: Vec<SeedResult> = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(pool) => pool.install(|| seeds.par_iter().map(one).collect()),
        Err(_) => seeds.iter().map(one).collect(),
    };
    bar.finish_and_clear();
    results.sort_by_key(|r| r.seed);
    let sometimes = loaded.expect.iter().filter(|e| e.kind == Kind::Sometimes).map(|e| e.text.clone()).collect();
    Sweep { scenario: file.to_string(), first, end, shard, sometimes, results }
}

impl Sweep {
    pub fn to_json(&self) -> Value {
        json!({
            "wharf_sweep": 1,
            "scenario": self.scenario,
            "seeds": [self.first, self.end],
            "shard": self.shard.map(|(k, n)| format!("{k}/{n}")),
            "sometimes": self.sometimes,
            "results": self.results.iter().map(|r| json!({
                "seed": r.seed, "passed": r.passed, "failed": r.failed, "seen": r.seen,
                "fingerprint": r.fingerprint, "events": r.events,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn from_json(v: &Value) -> Result<Sweep, String> {
        let bad = |what: &str| format!("not a wharf sweep result: missing or invalid `{what}`");
        if v.get("wharf_sweep").and_then(Value::as_u64) != Some(1) {
            return Err(bad("wharf_sweep"));
        }
        let strs = |x: Option<&Value>| -> Vec<String> {
            x.and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let seeds = v.get("seeds").and_then(Value::as_array).ok_or_else(|| bad("seeds"))?;
        let mut results = Vec::new();
        for r in v.get("results").and_then(Value::as_array).ok_or_else(|| bad("results"))? {
            results.push(SeedResult {
                seed: r.get("seed").and_then(Value::as_u64).ok_or_else(|| bad("results[].seed"))?,
                passed: r.get("passed").and_then(Value::as_bool).ok_or_else(|| bad("results[].passed"))?,
                failed: strs(r.get("failed")),
                seen: strs(r.get("seen")),
                fingerprint: r.get("fingerprint").and_then(Value::as_str).unwrap_or_default().to_string(),
                events: r.get("events").and_then(Value::as_u64).unwrap_or(0),
            });
        }
        Ok(Sweep {
            scenario: v.get("scenario").and_then(Value::as_str).ok_or_else(|| bad("scenario"))?.to_string(),
            first: seeds.first().and_then(Value::as_u64).ok_or_else(|| bad("seeds"))?,
            end: seeds.get(1).and_then(Value::as_u64).ok_or_else(|| bad("seeds"))?,
            shard: None,
            sometimes: strs(v.get("sometimes")),
            results,
        })
    }

    /// Combines shards of one sweep; an error if they are of different scenarios or overlap.
    pub fn merge(parts: Vec<Sweep>) -> Result<Sweep, String> {
        let mut it = parts.into_iter();
        let mut all = it.next().ok_or("nothing to merge")?;
        for p in it {
            if p.scenario != all.scenario {
                return Err(format!("shards of different scenarios: {} and {}", all.scenario, p.scenario));
            }
            all.first = all.first.min(p.first);
            all.end = all.end.max(p.end);
            all.results.extend(p.results);
        }
        all.results.sort_by_key(|r| r.seed);
        if let Some(w) = all.results.windows(2).find(|w| w[0].seed == w[1].seed) {
            return Err(format!("seed {} appears in two shards", w[0].seed));
        }
        all.shard = None;
        Ok(all)
    }

    /// Passed iff every seed passed and every `Sometimes` was seen at least once.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed) && self.unseen().is_empty()
    }

    fn unseen(&self) -> Vec<&String> {
        self.sometimes.iter().filter(|s| !self.results.iter().any(|r| r.seen.contains(s))).collect()
    }

    /// The human report.
    pub fn report(&self) -> String {
        let n = self.results.len();
        let failed: Vec<&SeedResult> = self.results.iter().filter(|r| !r.passed).collect();
        let pct = |k: usize| if n == 0 { 0.0 } else { k as f64 * 100.0 / n as f64 };
        let mut out = String::new();
        let shard = self.shard.map_or(String::new(), |(k, n)| format!(" (shard {k}/{n})"));
        let _ = writeln!(out, "explored {n} seeds in {}..{}{shard} of {}", self.first, self.end, self.scenario);
        let _ = writeln!(
            out,
            "passed {} ({:.2}%), failed {} ({:.2}%){}",
            n - failed.len(),
            pct(n - failed.len()),
            failed.len(),
            pct(failed.len()),
            if failed.is_empty() { "" } else { " -- flaky" }
        );
        let mut groups: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for r in &failed {
            for f in &r.failed {
                groups.entry(f.as_str()).or_default().push(r.seed);
            }
        }
        let mut groups: Vec<(&str, Vec<u64>)> = groups.into_iter().collect();
        groups.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        for (text, seeds) in groups {
            let shown: Vec<String> = seeds.iter().take(10).map(u64::to_string).collect();
            let more = if seeds.len() > 10 { format!(", ... ({} more)", seeds.len() - 10) } else { String::new() };
            let _ = writeln!(out, "  FAILED in {} seed(s) ({:.2}%): {text}", seeds.len(), pct(seeds.len()));
            let _ = writeln!(out, "    seeds: {}{more}", shown.join(", "));
            let _ = writeln!(out, "    replay: wharf run {} --seed {}", self.scenario, seeds[0]);
        }
        for s in &self.sometimes {
            let k = self.results.iter().filter(|r| r.seen.contains(s)).count();
            let tag = if k == 0 { "NEVER SEEN" } else { "seen" };
            let _ = writeln!(out, "  sometimes: {s} -- {tag} in {k} seed(s)");
        }
        let distinct: std::collections::BTreeSet<&str> = self.results.iter().map(|r| r.fingerprint.as_str()).collect();
        let _ = writeln!(out, "distinct traces: {}", distinct.len());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_seeds() {
        let all: Vec<u64> = (1..=3).flat_map(|k| shard_seeds(10, 20, Some((k, 3)))).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, (10..20).collect::<Vec<_>>());
        assert_eq!(shard_seeds(10, 20, Some((1, 3))), [10, 13, 16, 19]);
    }

    fn sweep_of(seeds: &[(u64, bool)]) -> Sweep {
        let results = seeds
            .iter()
            .map(|&(seed, passed)| SeedResult {
                seed,
                passed,
                failed: if passed { vec![] } else { vec!["x: eventually y".into()] },
                seen: vec![],
                fingerprint: format!("f{seed}"),
                events: 1,
            })
            .collect();
        Sweep { scenario: "s.ron".into(), first: 0, end: 4, shard: None, sometimes: vec![], results }
    }

    #[test]
    fn json_round_trip_and_merge() {
        let a = sweep_of(&[(0, true), (2, false)]);
        let b = sweep_of(&[(1, true), (3, false)]);
        let a2 = Sweep::from_json(&a.to_json()).unwrap();
        assert_eq!(a2.results, a.results);
        let m = Sweep::merge(vec![a2, Sweep::from_json(&b.to_json()).unwrap()]).unwrap();
        assert_eq!(m.results.iter().map(|r| r.seed).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(m.report().contains("FAILED in 2 seed(s) (50.00%): x: eventually y"));
        assert!(m.report().contains("replay: wharf run s.ron --seed 2"));
        assert!(Sweep::merge(vec![sweep_of(&[(1, true)]), sweep_of(&[(1, true)])]).is_err());
        assert!(Sweep::from_json(&json!({"x": 1})).is_err());
    }
}
