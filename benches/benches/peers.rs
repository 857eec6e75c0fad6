//! The same workloads against peer simulators, in the same run as wharf's:
//! `cargo bench -p wharf-benches --bench peers` (add `-- --quick`).
//!
//! - `peer_hold/<peer>/<pending>`: the hold model of `engine.rs` (pop the
//!   earliest event, schedule one an exponential(1 ms) later) through each
//!   peer's public scheduling API, with the same random draw (wharf's ChaCha
//!   stream + `ln`), so `queue_hold/draw-only` is a common offset.
//! - `requests/<sim>/<hosts>`: one server and `hosts - 1` clients, each
//!   connecting over TCP and doing 10 request/response round trips; turmoil
//!   runs real tokio code on simulated links with a 1 ms tick, wharf runs
//!   its Client/Server programs (DNS lookup, handshake, requests 1 ms apart).

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::cell::RefCell;
use std::rc::Rc;
use wharf::rng::Rng;
use wharf_benches::hold_increment;

/// The CLI's allocator (`wharf_benches::Allocator`).
#[global_allocator]
static ALLOC: wharf_benches::Allocator = wharf_benches::ALLOCATOR;

const HOLD_SIZES: [usize; 3] = [100, 10_000, 1_000_000];
const OPS: u64 = 1000;

fn rng() -> Rng {
    Rng::fork(1, "hold")
}

// ---- simcore: callback components, f64 seconds, boxed type-erased events.

#[derive(Clone, serde::Serialize)]
struct Tick;

struct SimcoreHold {
    ctx: simcore::SimulationContext,
    rng: Rng,
}

impl simcore::EventHandler for SimcoreHold {
    fn on(&mut self, _event: simcore::Event) {
        let d = hold_increment(&mut self.rng) as f64 * 1e-9;
        self.ctx.emit_self(Tick, d);
    }
}

fn simcore_hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("peer_hold");
    g.throughput(Throughput::Elements(OPS));
    for n in HOLD_SIZES {
        g.bench_with_input(BenchmarkId::new("simcore", n), &n, |b, &n| {
            let mut sim = simcore::Simulation::new(1);
            let ctx = sim.create_context("hold");
            let h = Rc::new(RefCell::new(SimcoreHold { ctx, rng: rng() }));
            sim.add_handler("hold", h.clone());
            {
                let mut h = h.borrow_mut();
                let mut r = rng();
                for _ in 0..n {
                    h.ctx.emit_self(Tick, hold_increment(&mut r) as f64 * 1e-9);
                }
                h.rng = r;
            }
            b.iter(|| sim.steps(OPS));
        });
    }
    g.finish();
}

// ---- simulacra: integer time, a std BinaryHeap of (time, seq, event).

fn simulacra_hold(c: &mut Criterion) {
    use simulacra::{Simulation, Time};
    let mut g = c.benchmark_group("peer_hold");
    g.throughput(Throughput::Elements(OPS));
    for n in HOLD_SIZES {
        g.bench_with_input(BenchmarkId::new("simulacra", n), &n, |b, &n| {
            let mut sim: Simulation<u32> = Simulation::with_capacity(n);
            let mut r = rng();
            for i in 0..n {
                sim.schedule(Time::from_nanos(hold_increment(&mut r)), i as u32);
            }
            b.iter(|| {
                for _ in 0..OPS {
                    let s = sim.step().expect("pending");
                    let at = Time::from_nanos(s.time.as_nanos() + hold_increment(&mut r));
                    sim.schedule(at, std::hint::black_box(s.event));
                }
            });
        });
    }
    g.finish();
}

// ---- nexosim: an async model scheduling its own events, one executor thread.

thread_local! {
    static NEXO_RNG: RefCell<Rng> = RefCell::new(rng());
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct NexoHold {
    pending: usize,
}

#[nexosim::model::Model]
impl NexoHold {
    #[nexosim(init)]
    async fn init(&mut self, cx: &nexosim::model::Context<Self>) {
        for _ in 0..self.pending {
            let d = NEXO_RNG.with(|r| hold_increment(&mut r.borrow_mut()));
            cx.schedule_event(std::time::Duration::from_nanos(d + 1), nexosim::model::schedulable!(Self::tick), ())
                .expect("future time");
        }
    }

    #[nexosim(schedulable)]
    async fn tick(&mut self, _: (), cx: &nexosim::model::Context<Self>) {
        let d = NEXO_RNG.with(|r| hold_increment(&mut r.borrow_mut()));
        cx.schedule_event(std::time::Duration::from_nanos(d + 1), nexosim::model::schedulable!(Self::tick), ())
            .expect("future time");
    }
}

fn nexosim_hold(c: &mut Criterion) {
    use nexosim::simulation::{Mailbox, SimInit};
    let mut g = c.benchmark_group("peer_hold");
    g.throughput(Throughput::Elements(OPS));
    for n in HOLD_SIZES {
        g.bench_with_input(BenchmarkId::new("nexosim", n), &n, |b, &n| {
            let model = NexoHold { pending: n };
            let mut sim = SimInit::with_num_threads(1)
                .add_model(model, Mailbox::new(), "hold")
                .init(nexosim::time::MonotonicTime::EPOCH)
                .expect("init");
            b.iter(|| {
                for _ in 0..OPS {
                    sim.step().expect("step");
                }
            });
        });
    }
    g.finish();
}

// ---- request/response: turmoil vs wharf, 10 … 1,000 hosts.

const ROUND_TRIPS: usize = 10;

fn turmoil_requests(hosts: usize) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sim =
        turmoil::Builder::new().simulation_duration(std::time::Duration::from_secs(600)).tcp_capacity(1 << 20).build();
    sim.host("server", || async {
        let l = turmoil::net::TcpListener::bind("0.0.0.0:80").await?;
        loop {
            let (mut s, _) = l.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while s.read_exact(&mut buf).await.is_ok() {
                    if s.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    for i in 1..hosts {
        sim.client(format!("c{i}"), async {
            let mut s = turmoil::net::TcpStream::connect("server:80").await?;
            let mut buf = [7u8; 64];
            for _ in 0..ROUND_TRIPS {
                s.write_all(&buf).await?;
                s.read_exact(&mut buf).await?;
            }
            Ok(())
        });
    }
    sim.run().expect("turmoil run");
    2 * ROUND_TRIPS * (hosts - 1)
}

fn wharf_requests(hosts: usize) -> wharf::scenario::Loaded {
    wharf::scenario::load_str("requests.ron", &wharf_benches::requests(hosts, ROUND_TRIPS)).expect("valid")
}

fn requests(c: &mut Criterion) {
    let mut g = c.benchmark_group("requests");
    g.sample_size(10);
    for hosts in [11usize, 101, 1001, 10_001] {
        g.throughput(Throughput::Elements((2 * ROUND_TRIPS * (hosts - 1)) as u64));
        if hosts <= 101 {
            // Beyond this, one turmoil run takes minutes: see `turmoil_one_shot`.
            g.bench_with_input(BenchmarkId::new("turmoil", hosts), &hosts, |b, &h| b.iter(|| turmoil_requests(h)));
        }
        let l = wharf_requests(hosts);
        g.bench_with_input(BenchmarkId::new("wharf", hosts), &l, |b, l| {
            b.iter(|| wharf::run::run(l, wharf::run::Overrides::default()).world.events)
        });
    }
    g.finish();
}

/// turmoil with 201, 401 and 1,001 hosts, timed once each (criterion would
/// need ten runs of many minutes each): `WHARF_BENCH_TURMOIL_1001=1`. On the
/// machine in the README, 201 hosts had not finished after 7 minutes.
fn turmoil_one_shot() {
    if std::env::var_os("WHARF_BENCH_TURMOIL_1001").is_none() {
        return;
    }
    let t0 = std::time::Instant::now();
    let messages = turmoil_requests(1001);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "requests/turmoil/1001 (one run): {secs:.1} s, {messages} messages, {:.0} messages/s",
        messages as f64 / secs
    );
}

criterion_group!(benches, simcore_hold, simulacra_hold, nexosim_hold, requests);

fn main() {
    benches();
    turmoil_one_shot();
    Criterion::default().configure_from_args().final_summary();
}
