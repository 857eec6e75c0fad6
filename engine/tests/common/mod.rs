//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// Every shipped `scenarios/**/*.ron`, in sorted (deterministic) order.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("scenarios dir").map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "ron") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"), &mut v);
    assert!(v.len() >= 10, "expected the shipped scenarios, found {}", v.len());
    v
}
