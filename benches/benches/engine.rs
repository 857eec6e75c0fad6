//! `cargo bench -p wharf-benches` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use wharf::run::{run, Overrides};
use wharf::scenario::{load_file, load_str};
use wharf::sim::queue::Queue;
use wharf_benches::{hold_fill, hold_increment, hold_ops, BinaryHeapQueue};

/// The CLI's allocator (`wharf_benches::Allocator`).
#[global_allocator]
static ALLOC: wharf_benches::Allocator = wharf_benches::ALLOCATOR;

/// The classic hold model: N pending events; each operation pops the
/// earliest and pushes one a random (exponential, mean 1 ms) time later.
/// Rows: wharf's queue, the std BinaryHeap baseline, and the loop's own cost
/// (the random draw alone) to subtract.
fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_hold");
    g.throughput(Throughput::Elements(1000));
    for &n in &[100usize, 10_000, 1_000_000] {
        g.bench_with_input(BenchmarkId::new("wharf", n), &n, |b, &n| {
            let mut rng = wharf::rng::Rng::fork(1, "hold");
            let mut q = Queue::default();
            hold_fill(&mut q, n, &mut rng);
            b.iter(|| hold_ops(&mut q, 1000, &mut rng));
        });
        g.bench_with_input(BenchmarkId::new("std-binary-heap", n), &n, |b, &n| {
            let mut rng = wharf::rng::Rng::fork(1, "hold");
            let mut q = BinaryHeapQueue::default();
            hold_fill(&mut q, n, &mut rng);
            b.iter(|| hold_ops(&mut q, 1000, &mut rng));
        });
    }
    g.bench_function("draw-only", |b| {
        let mut rng = wharf::rng::Rng::fork(1, "hold");
        b.iter(|| {
            for _ in 0..1000 {
                black_box(hold_increment(&mut rng));
            }
        });
    });
    g.finish();
}

fn scenario_runs(c: &mut Criterion) {
    let mut g = c.benchmark_group("handshakes");
    g.sample_size(10);
    for &n in &[100usize, 1000, 10_000] {
        let l = load_str("pairs.ron", &wharf_benches::pairs(n, 0)).expect("valid");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &l, |b, l| {
            b.iter(|| run(l, Overrides::default()).world.events)
        });
    }
    g.finish();
    // Marginal cost of a connection: pools of 20 minus pools of 10 (the same
    // containers, C more connections), by IP (handshake) and by name (DNS
    // query and answer, then the handshake). Divide the difference of the
    // medians by C. (The README lists the scale bench's figure instead: the
    // same difference timed from the pools' start, start-up excluded.)
    let mut g = c.benchmark_group("connections");
    g.sample_size(10);
    for conns in [100usize, 10_000] {
        for (mode, by_ip) in [("ip", true), ("name", false)] {
            for size in [10u32, 20] {
                let l = load_str("pools.ron", &wharf_benches::pools(conns / 10, size, by_ip)).expect("valid");
                g.bench_with_input(BenchmarkId::new(format!("{conns}/{mode}"), size), &l, |b, l| {
                    b.iter(|| run(l, Overrides::default()).world.events)
                });
            }
        }
    }
    g.finish();
    let mut g = c.benchmark_group("scenario");
    g.sample_size(10);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for rel in ["patterns/three-tier.ron", "explore/twenty-containers.ron"] {
        let l = load_file(&root.join(rel)).expect("valid");
        let events = run(&l, Overrides::default()).world.events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(rel, |b| b.iter(|| run(&l, Overrides::default()).world.events));
    }
    let l = load_str("mesh.ron", &wharf_benches::mesh(1000)).expect("valid");
    let events = run(&l, Overrides::default()).world.events;
    g.throughput(Throughput::Elements(events));
    g.bench_function("mesh-1000-containers-10min", |b| b.iter(|| run(&l, Overrides::default()).world.events));
    g.finish();
    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    let l = load_file(&root.join("explore/twenty-containers.ron")).expect("valid");
    g.throughput(Throughput::Elements(100));
    g.bench_function("twenty-containers-100-seeds", |b| {
        b.iter_batched(
            || (),
            |_| wharf::explore::sweep(&l, "t", 0, 100, None, 1, false).results.len(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, hold, scenario_runs);
criterion_main!(benches);
