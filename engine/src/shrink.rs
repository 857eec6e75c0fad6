//! Shrinking a failing seed into a minimal scenario that fails on its own.
//!
//! 1. Pin the seed's randomness: every random start-up or exit delay becomes
//!    the value drawn in the failing run, the chaos draw becomes concrete
//!    actions, jitter becomes zero — so the result no longer needs the seed.
//! 2. Reduce greedily while the same expectation still fails: drop actions,
//!    other expectations, containers, replicas; halve request counts; shorten
//!    delays (binary search for the smallest that still fails) and `until`.
//! 3. Check that the result fails under several seeds.
//!
//! Every candidate is a schema-level scenario, lowered and run like a file.

use crate::dist::Delay;
use crate::run::{run, Overrides};
use crate::scenario::schema as s;
use crate::scenario::{lower, parse, to_ron};
use crate::sim::record::Ev;
use crate::sim::spec::ActionSpec;
use crate::time::Dur;

/// The result of a shrink.
pub struct Shrunk {
    pub scenario: s::Scenario,
    /// The expectation that fails, as reported.
    pub target: String,
    /// Seeds under which the shrunk scenario was run and failed / passed.
    pub failing_seeds: Vec<u64>,
    pub passing_seeds: Vec<u64>,
    pub steps: Vec<String>,
    pub runs: usize,
}

struct Shrinker<'a> {
    file: &'a str,
    seed: u64,
    target: String,
    /// What the original failure looked like: (container, error kind) pairs.
    signature: std::collections::BTreeSet<(String, String)>,
    runs: usize,
    budget: usize,
    steps: Vec<String>,
}

impl Shrinker<'_> {
    /// Does `sc` still fail on the target expectation under `seed`?
    fn fails_with(&mut self, sc: &s::Scenario, seed: u64) -> bool {
        self.runs += 1;
        let Ok(l) = lower(self.file, "", sc) else { return false };
        let r = run(&l, Overrides { seed: Some(seed), ..Overrides::default() });
        r.outcomes.iter().any(|o| !o.held && !o.sometimes && o.text == self.target)
            && self.signature.is_subset(&signature(&r))
    }

    fn fails(&mut self, sc: &s::Scenario) -> bool {
        self.runs < self.budget && self.fails_with(sc, self.seed)
    }

    /// Keeps `cand` when it still fails.
    fn try_keep(&mut self, cur: &mut s::Scenario, cand: s::Scenario, what: String) -> bool {
        if self.fails(&cand) {
            *cur = cand;
            self.steps.push(what);
            true
        } else {
            false
        }
    }

    fn pass(&mut self, cur: &mut s::Scenario) -> bool {
        let mut changed = false;
        for i in (0..cur.actions.len()).rev() {
            let mut c = cur.clone();
            let (t, _) = c.actions.remove(i);
            changed |= self.try_keep(cur, c, format!("removed the action at {}", t.0));
        }
        for i in (0..cur.expect.len()).rev() {
            let mut c = cur.clone();
            c.expect.remove(i);
            changed |= self.try_keep(cur, c, "removed another expectation".into());
        }
        if cur.converge.is_some() {
            let mut c = cur.clone();
            c.converge = None;
            changed |= self.try_keep(cur, c, "removed the convergence block".into());
        }
        for i in (0..cur.containers.0.len()).rev() {
            let mut c = cur.clone();
            let (name, _) = c.containers.0.remove(i);
            changed |= self.try_keep(cur, c, format!("removed container {name}"));
        }
        for i in (0..cur.networks.0.len()).rev() {
            let mut c = cur.clone();
            let (name, _) = c.networks.0.remove(i);
            changed |= self.try_keep(cur, c, format!("removed network {name}"));
        }
        for i in 0..cur.containers.0.len() {
            changed |= self.reduce_container(cur, i);
        }
        changed |= self.shorten_until(cur);
        changed
    }

    fn reduce_container(&mut self, cur: &mut s::Scenario, i: usize) -> bool {
        let mut changed = false;
        let name = cur.containers.0[i].0.clone();
        if let Some(n) = cur.containers.0[i].1.replicas.filter(|&n| n > 1) {
            let mut c = cur.clone();
            c.containers.0[i].1.replicas = Some(n / 2);
            changed |= self.try_keep(cur, c, format!("{name}: replicas {n} -> {}", n / 2));
        }
        if let s::Program::Client(cl) = &cur.containers.0[i].1.program {
            if let Some(n) = cl.requests.as_ref().map(|r| r.count).filter(|&n| n > 1) {
                let mut c = cur.clone();
                if let s::Program::Client(cl) = &mut c.containers.0[i].1.program {
                    cl.requests.as_mut().expect("requests").count = n / 2;
                }
                changed |= self.try_keep(cur, c, format!("{name}: requests {n} -> {}", n / 2));
            }
        }
        if let Some(s::DelayStr(Delay::Fixed(d))) = cur.containers.0[i].1.startup {
            if let Some(best) =
                self.smallest(cur, d, |c, v| c.containers.0[i].1.startup = Some(s::DelayStr(Delay::Fixed(v))))
            {
                let mut c = cur.clone();
                c.containers.0[i].1.startup = Some(s::DelayStr(Delay::Fixed(best)));
                *cur = c;
                self.steps.push(format!("{name}: start-up {d} -> {best}"));
                changed = true;
            }
        }
        changed
    }

    /// The smallest value in [0, d) (to 1 ms) for which the scenario still fails, if any.
    fn smallest(&mut self, cur: &s::Scenario, d: Dur, set: impl Fn(&mut s::Scenario, Dur)) -> Option<Dur> {
        let (mut lo, mut hi) = (0u64, d.0);
        let mut found = None;
        while hi - lo > 1_000_000 && self.runs < self.budget {
            let mid = lo + (hi - lo) / 2;
            let mut c = cur.clone();
            set(&mut c, Dur(mid / 1_000_000 * 1_000_000));
            if self.fails(&c) {
                hi = mid;
                found = Some(Dur(mid / 1_000_000 * 1_000_000));
            } else {
                lo = mid;
            }
        }
        found.filter(|f| *f < d)
    }

    fn shorten_until(&mut self, cur: &mut s::Scenario) -> bool {
        let d = cur.until.0;
        match self.smallest(cur, d, |c, v| c.until = s::D(v)) {
            Some(best) => {
                cur.until = s::D(best);
                self.steps.push(format!("until {d} -> {best}"));
                true
            }
            None => false,
        }
    }
}

/// The kinds of failure each container saw: errnos, giving up, exit codes.
fn signature(r: &crate::run::RunResult) -> std::collections::BTreeSet<(String, String)> {
    r.world
        .trace
        .iter()
        .filter_map(|rec| {
            let kind = match &rec.ev {
                Ev::GaveUp { .. } => "gave up".to_string(),
                Ev::Die { code } if *code != 0 => format!("exit {code}"),
                Ev::ComposeFailed { .. } => "compose failed".into(),
                Ev::Health { status } if *status == crate::container::health::Status::Unhealthy => "unhealthy".into(),
                ev => ev.errno()?.name().to_string(),
            };
            Some((rec.ctr.map_or_else(String::new, |c| r.world.ctrs[c].name.clone()), kind))
        })
        .collect()
}

/// The first start of a container instance and its first program start / exit.
fn drawn_delays(trace: &crate::sim::record::Trace, w: &crate::sim::World, name: &str) -> (Option<Dur>, Option<Dur>) {
    let Some(id) = w.ctr_by_name(name) else { return (None, None) };
    let mine = || trace.iter().filter(move |r| r.ctr == Some(id));
    let start = mine().find(|r| r.ev == Ev::Start).map(|r| r.t);
    let prog = mine().find(|r| r.ev == Ev::ProgramStarted).map(|r| r.t);
    let die = mine().find(|r| matches!(r.ev, Ev::Die { .. })).map(|r| r.t);
    // Behind start-up gates the delay runs from the last gate's opening.
    let gates_done = prog.and_then(|p| mine().rfind(|r| r.t <= p && matches!(r.ev, Ev::Waited { .. }))).map(|r| r.t);
    let startup = gates_done.or(start).zip(prog).map(|(a, b)| b.since(a));
    let exit = prog.zip(die).map(|(a, b)| b.since(a));
    (startup, exit)
}

/// Replaces the seed's randomness by the values it drew.
fn pin(sc: &s::Scenario, r: &crate::run::RunResult, loaded: &crate::scenario::Loaded) -> s::Scenario {
    let mut p = sc.clone();
    for (key, c) in p.containers.0.iter_mut() {
        let inst = if c.replicas.is_some_and(|n| n > 1) { format!("{key}-1") } else { key.clone() };
        let (startup, exit) = drawn_delays(&r.world.trace, &r.world, &inst);
        if let (Some(s::DelayStr(d)), Some(v)) = (c.startup, startup) {
            if !matches!(d, Delay::Fixed(_)) {
                c.startup = Some(s::DelayStr(Delay::Fixed(v)));
            }
        }
        if let s::Program::Exit { after: Some(s::DelayStr(d)), .. } = &mut c.program {
            if let (false, Some(v)) = (matches!(d, Delay::Fixed(_)), exit) {
                *d = Delay::Fixed(v);
            }
        }
        if let s::Program::Client(cl) = &mut c.program {
            if let s::Retry::Exponential { jitter, .. } = &mut cl.retry {
                *jitter = 0.0;
            }
        }
    }
    for (_, n) in p.networks.0.iter_mut() {
        if let s::Network::Bridge(b) = n {
            b.jitter = Some(s::D(Dur::ZERO));
        }
    }
    if let (Some(_), Some(chaos)) = (p.chaos.take(), loaded.spec.chaos.as_ref()) {
        for (t, a) in crate::sim::fault::draw_chaos(chaos, r.world.seed) {
            if let Some(a) = unlower_action(a, loaded) {
                p.actions.push((s::D(t), a));
            }
        }
        p.actions.sort_by_key(|(t, _)| t.0);
    }
    p
}

/// A drawn chaos action as a scenario action.
fn unlower_action(a: ActionSpec, l: &crate::scenario::Loaded) -> Option<s::Action> {
    let n = |i: usize| l.spec.containers[i].name.clone();
    let net = |i: usize| l.spec.networks[i].name.clone();
    Some(match a {
        ActionSpec::Crash(i, code) => s::Action::Crash(n(i), code),
        ActionSpec::Restart(i) => s::Action::Restart(n(i)),
        ActionSpec::Pause(i) => s::Action::Pause(n(i)),
        ActionSpec::Unpause(i) => s::Action::Unpause(n(i)),
        ActionSpec::PartitionFor(p, d) => {
            let part = &l.spec.partitions[p];
            s::Action::Partition {
                name: Some(part.name.clone()),
                a: part.a.iter().map(|&i| n(i)).collect(),
                b: part.b.iter().map(|&i| n(i)).collect(),
                one_way: part.one_way,
                heal_after: Some(s::D(d)),
            }
        }
        ActionSpec::DegradeLoss(i, m, d) => s::Action::Degrade {
            network: net(i),
            latency: None,
            jitter: None,
            loss: Some(f64::from(m) / 1e6),
            duplicate: None,
            reorder: None,
            duration: s::D(d),
        },
        ActionSpec::Dns(o, d) => s::Action::DnsOutage {
            mode: match o {
                crate::sim::spec::DnsOutage::Drop => s::DnsMode::Drop,
                crate::sim::spec::DnsOutage::ServFail => s::DnsMode::ServFail,
                crate::sim::spec::DnsOutage::Slow(x) => s::DnsMode::Slow(s::D(x)),
            },
            duration: s::D(d),
        },
        _ => return None,
    })
}

/// Shrinks the failure of `seed`; `budget` bounds the number of runs.
pub fn shrink(file: &str, src: &str, seed: u64, budget: usize) -> Result<Shrunk, String> {
    let sc = parse(file, src).map_err(|d| d.render())?;
    let loaded = lower(file, src, &sc).map_err(|d| d.render())?;
    let r = run(&loaded, Overrides { seed: Some(seed), ..Overrides::default() });
    let Some(target) = r.outcomes.iter().find(|o| !o.held && !o.sometimes).map(|o| o.text.clone()) else {
        return Err(format!("seed {seed} passes every expectation: nothing to shrink"));
    };
    let failing = loaded.expect.iter().zip(&r.outcomes).find(|(_, o)| o.text == target).map(|(e, _)| e);
    let who: Vec<String> =
        failing.map_or(vec![], |e| e.who.iter().map(|&i| loaded.spec.containers[i].name.clone()).collect());
    let signature = signature(&r).into_iter().filter(|(c, _)| who.is_empty() || who.contains(c)).collect();
    let mut sh = Shrinker { file, seed, target, signature, runs: 0, budget, steps: vec![] };
    let pinned = pin(&sc, &r, &loaded);
    let mut cur = if sh.fails(&pinned) {
        sh.steps.push("pinned the seed's random delays, chaos draw and jitter".into());
        pinned
    } else {
        sh.steps.push("could not pin the randomness (the pinned scenario passes): kept it".into());
        sc.clone()
    };
    while sh.runs < sh.budget && sh.pass(&mut cur) {}
    cur.seed = seed;
    let (mut failing_seeds, mut passing_seeds) = (vec![], vec![]);
    for s in [seed, 0, 1, 2, 3, 42] {
        if sh.fails_with(&cur, s) {
            failing_seeds.push(s);
        } else {
            passing_seeds.push(s);
        }
    }
    Ok(Shrunk { scenario: cur, target: sh.target, failing_seeds, passing_seeds, steps: sh.steps, runs: sh.runs })
}

impl Shrunk {
    /// The scenario file, with a header saying where it came from.
    pub fn to_file(&self, from: &str, seed: u64) -> String {
        let mut out = format!("// Shrunk by `wharf shrink {from} --seed {seed}` ({} runs).\n", self.runs);
        out.push_str(&format!("// Fails: {}\n", self.target));
        out.push_str(&format!("// Fails under seeds {:?}", self.failing_seeds));
        if !self.passing_seeds.is_empty() {
            out.push_str(&format!("; passes under {:?} (randomness left)", self.passing_seeds));
        }
        out.push('\n');
        for s in &self.steps {
            out.push_str(&format!("//   - {s}\n"));
        }
        out.push_str(&to_ron(&self.scenario));
        out.push('\n');
        out
    }
}
