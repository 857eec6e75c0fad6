//! Every scenario under `scenarios/`: its expectations hold (files under
//! `scenarios/regressions/` are shrunk failures: they must still fail), its
//! trace is identical on a second run, and it matches the committed golden
//! copy (`<file>.trace` beside it). Set `WHARF_BLESS=1` to rewrite the goldens
//! after an intended behaviour change, then review the diff.

mod common;

use std::path::Path;
use wharf::run::{run, Overrides};
use wharf::scenario::load_file;

#[test]
fn every_scenario_passes_and_matches_its_golden_trace() {
    let bless = std::env::var_os("WHARF_BLESS").is_some();
    let mut failures = Vec::new();
    for path in common::shipped_scenarios() {
        let loaded = load_file(&path).unwrap_or_else(|d| panic!("{}", d.render()));
        let r = run(&loaded, Overrides { checks: true, ..Overrides::default() });
        if !r.world.checks.violations.is_empty() {
            failures.push(format!(
                "{}: invariants violated:\n  {}",
                path.display(),
                r.world.checks.violations.join("\n  ")
            ));
        }
        let text = r.text();
        let pinned_failure = path.components().any(|c| c.as_os_str() == "regressions");
        if pinned_failure && r.passed() {
            failures.push(format!(
                "{}: a pinned failure now passes: the bug it pins is fixed? move it out of regressions/",
                path.display()
            ));
        } else if !pinned_failure && !r.passed() {
            let failed: Vec<String> =
                r.outcomes.iter().filter(|o| !o.held).map(|o| format!("{}: {}", o.text, o.why)).collect();
            failures.push(format!(
                "{}: expectations failed (seed {}):\n  {}",
                path.display(),
                r.world.seed,
                failed.join("\n  ")
            ));
        }
        let again = run(&loaded, Overrides::default()).text();
        if again != text {
            failures.push(format!("{}: two runs with the same seed differ", path.display()));
        }
        let golden = path.with_extension("trace");
        if bless {
            std::fs::write(&golden, &text).unwrap();
        } else {
            match std::fs::read_to_string(&golden) {
                Ok(g) if g == text => {}
                Ok(g) => {
                    let line = g
                        .lines()
                        .zip(text.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(g.lines().count().min(text.lines().count()));
                    failures.push(format!(
                        "{}: trace differs from {} at line {}:\n  golden: {}\n  now:    {}\n  (WHARF_BLESS=1 to accept)",
                        path.display(), golden.display(), line + 1,
                        g.lines().nth(line).unwrap_or("<end>"), text.lines().nth(line).unwrap_or("<end>")
                    ));
                }
                Err(_) => failures.push(format!("{}: no golden trace (run with WHARF_BLESS=1)", path.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The queue's ladder (which takes the far events once 8,192 wait in the
/// heap) cannot change the order: every shipped scenario, run with the
/// ladder opening past one event in the heap, gives its trace byte for byte.
#[test]
fn the_queue_ladder_changes_no_trace() {
    let mut opened = 0;
    for path in common::shipped_scenarios() {
        let loaded = load_file(&path).unwrap_or_else(|d| panic!("{}", d.render()));
        let plain = run(&loaded, Overrides::default());
        let ladder = run(&loaded, Overrides { queue_spill_over: Some(1), ..Overrides::default() });
        assert_eq!(plain.world.queue_spills(), 0, "{}", path.display());
        opened += usize::from(ladder.world.queue_spills() > 0);
        let (a, b) = (plain.text(), ladder.text());
        if a != b {
            let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
            panic!(
                "{}: the ladder changed the trace at line {}:\n  heap:   {}\n  ladder: {}",
                path.display(),
                line + 1,
                a.lines().nth(line).unwrap_or("<end>"),
                b.lines().nth(line).unwrap_or("<end>")
            );
        }
    }
    // 30 of the 41 scenarios hold two events in the heap at some point.
    assert!(opened >= 25, "the ladder opened in only {opened} scenarios");
}

#[test]
fn another_seed_changes_random_delays() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/basics/startup-race-retry.ron");
    let loaded = load_file(&path).unwrap();
    let a = run(&loaded, Overrides { seed: Some(1), ..Overrides::default() }).fingerprint();
    let b = run(&loaded, Overrides { seed: Some(2), ..Overrides::default() }).fingerprint();
    let a2 = run(&loaded, Overrides { seed: Some(1), ..Overrides::default() }).fingerprint();
    assert_eq!(a, a2);
    assert_ne!(a, b, "uniform(3s, 8s) start-up must draw differently under another seed");
}

#[test]
fn fixed_scenarios_do_not_depend_on_the_seed_for_their_outcome() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/basics/icc-disabled.ron");
    let loaded = load_file(&path).unwrap();
    for seed in [0, 1, 99] {
        assert!(run(&loaded, Overrides { seed: Some(seed), ..Overrides::default() }).passed(), "seed {seed}");
    }
}

#[test]
fn every_scenario_survives_a_round_trip_through_ron() {
    for path in common::shipped_scenarios() {
        let src = std::fs::read_to_string(&path).unwrap();
        let file = path.display().to_string();
        let sc = wharf::scenario::parse(&file, &src).unwrap();
        let text = wharf::scenario::to_ron(&sc);
        let back = wharf::scenario::load_str("round-trip.ron", &text)
            .unwrap_or_else(|d| panic!("{file}:\n{text}\n{}", d.render()));
        let original = load_file(&path).unwrap();
        let (a, b) = (run(&original, Overrides::default()), run(&back, Overrides::default()));
        assert_eq!(a.text(), b.text(), "{file}: the re-serialized scenario behaves differently");
    }
}

/// The `wharf` binary runs on another global allocator than this test
/// (on Linux, jemalloc on transparent huge pages, `src/main.rs`): every shipped
/// scenario's trace, as the CLI prints it, is still its golden trace byte
/// for byte — nothing in the engine depends on where memory lands.
#[test]
fn the_cli_prints_every_golden_trace() {
    let mut failures = Vec::new();
    for path in common::shipped_scenarios() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf")).arg("run").arg(&path).output().unwrap();
        let golden = std::fs::read(path.with_extension("trace")).unwrap();
        if !out.stdout.starts_with(&golden) {
            failures.push(path.display().to_string());
        }
    }
    assert!(failures.is_empty(), "the CLI's trace differs from the golden one: {failures:?}");
}
