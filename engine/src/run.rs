//! One run of a loaded scenario: build the world, step it, check expectations.

use crate::output::expect::{self, Outcome};
use crate::output::trace;
use crate::scenario::Loaded;
use crate::sim::{Stop, World};
use crate::time::Dur;

pub struct RunResult {
    pub world: World,
    pub outcomes: Vec<Outcome>,
    pub stop: Stop,
}

/// Overrides from the command line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub until: Option<Dur>,
    pub max_events: Option<u64>,
    /// Run the invariant checks beside the simulation (`World::checks`).
    pub checks: bool,
    /// Keep every packet for a capture (`World::captured`).
    pub capture: bool,
    /// How many events the queue's heap holds before its ladder opens
    /// (default 8,192): tests set it low to run every scenario through
    /// the ladder, which must not change a trace.
    pub queue_spill_over: Option<usize>,
}

pub fn run(loaded: &Loaded, o: Overrides) -> RunResult {
    let mut spec = loaded.spec.clone();
    spec.seed = o.seed.unwrap_or(spec.seed);
    spec.until = o.until.unwrap_or(spec.until);
    spec.max_events = o.max_events.unwrap_or(spec.max_events);
    let mut world = World::new(spec);
    if let Some(n) = o.queue_spill_over {
        world.set_queue_spill_over(n);
    }
    world.checks.enabled = o.checks;
    if o.capture {
        world.captured = Some(Vec::new());
    }
    let stop = world.run();
    world.check_conservation();
    let outcomes = loaded.expect.iter().map(|e| expect::check(&world, e)).collect();
    RunResult { world, outcomes, stop }
}

/// The world at simulated time `at` (every event due by then has run).
pub fn world_at(loaded: &Loaded, o: Overrides, at: Dur) -> World {
    let mut spec = loaded.spec.clone();
    spec.seed = o.seed.unwrap_or(spec.seed);
    let mut world = World::new(spec);
    world.run_until(crate::time::Time::ZERO + at);
    world
}

impl RunResult {
    /// Every expectation held (`Sometimes` ones are judged across a sweep)
    /// and the run ended within its bounds.
    pub fn passed(&self) -> bool {
        self.stop != Stop::EventBound
            && self.world.checks.violations.is_empty()
            && self.outcomes.iter().all(|o| o.held || o.sometimes)
    }

    pub fn text(&self) -> String {
        trace::text(&self.world)
    }

    pub fn fingerprint(&self) -> String {
        trace::fingerprint_of(&self.world)
    }
}
