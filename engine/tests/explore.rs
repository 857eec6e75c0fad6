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
