//! Seed exploration and shrinking end to end, on the shipped planted fragility.

use std::path::Path;
use wharf::explore::{sweep, Sweep};
use wharf::run::{run, Overrides};
use wharf::scenario::{load_file, load_str};

const FRAGILE: &str = "../scenarios/explore/fragile-retry-budget.ron";

#[test]
fn explore_finds_the_planted_fragility_and_shrink_makes_it_deterministic() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FRAGILE);
    let loaded = load_file(&path).unwrap();
    let s = sweep(&loaded, "fragile.ron", 0, 2000, None, 2, false);
    let failed: Vec<u64> = s.results.iter().filter(|r| !r.passed).map(|r| r.seed).collect();
    let rate = failed.len() as f64 / s.results.len() as f64;
    assert!((0.01..0.06).contains(&rate), "failure rate {rate} (exp(2.5 s) > ~9 s is about 2.7%)");
    assert!(s.report().contains("replay: wharf run fragile.ron --seed"));

    let src = std::fs::read_to_string(&path).unwrap();
    let shrunk = wharf::shrink::shrink("fragile.ron", &src, failed[0], 500).unwrap();
    let file = shrunk.to_file("fragile.ron", failed[0]);
    let small = load_str("shrunk.ron", &file).unwrap_or_else(|d| panic!("{}", d.render()));
    assert!(small.spec.containers.len() < loaded.spec.containers.len(), "{file}");
    for seed in 0..20 {
        let r = run(&small, Overrides { seed: Some(seed), ..Overrides::default() });
        assert!(!r.passed(), "the shrunk scenario must fail under every seed; seed {seed} passed:\n{file}");
    }
}

#[test]
fn shards_merge_into_the_whole_sweep() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FRAGILE);
    let loaded = load_file(&path).unwrap();
    let whole = sweep(&loaded, "f.ron", 0, 300, None, 2, false);
    let parts: Vec<Sweep> = (1..=3).map(|k| sweep(&loaded, "f.ron", 0, 300, Some((k, 3)), 1, false)).collect();
    let json: Vec<Sweep> = parts.iter().map(|p| Sweep::from_json(&p.to_json()).unwrap()).collect();
    let merged = Sweep::merge(json).unwrap();
    assert_eq!(merged.results, whole.results);
    assert_eq!(merged.report(), whole.report());
}

#[test]
fn a_passing_seed_has_nothing_to_shrink() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FRAGILE);
    let src = std::fs::read_to_string(&path).unwrap();
    assert!(wharf::shrink::shrink("f.ron", &src, 1, 100).is_err());
}

/// Far more jobs than seeds: the sweep starts no more threads than it has
/// seeds (and at most `MAX_JOBS`), with the same results as one thread.
#[test]
fn more_jobs_than_seeds_is_the_same_sweep() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FRAGILE);
    let loaded = load_file(&path).unwrap();
    let one = sweep(&loaded, "f.ron", 0, 6, None, 1, false);
    let many = sweep(&loaded, "f.ron", 0, 6, None, 1_000_000, false);
    assert_eq!(many.results, one.results);
}

/// The seed count a run will sweep, with and without a shard, is what
/// `shard_seeds` hands out; the CLI refuses a range over `MAX_SEEDS` (every
/// result is kept) with exit code 2 and a hint, instead of running out of
/// memory.
#[test]
fn seed_ranges_are_counted_and_bounded() {
    use wharf::explore::{seed_count, shard_seeds, MAX_SEEDS};
    for (first, end) in [(0, 10), (5, 6), (3, 1000)] {
        for shard in [None, Some((1, 3)), Some((3, 3)), Some((2, 7))] {
            assert_eq!(
                seed_count(first, end, shard),
                shard_seeds(first, end, shard).len() as u64,
                "{first}..{end} {shard:?}"
            );
        }
    }
    let too_many = format!("0..{}", MAX_SEEDS + 1);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["explore", FRAGILE, "--seeds", &too_many, "--jobs", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at most 10000000") && err.contains("--shard"), "{err}");
}
