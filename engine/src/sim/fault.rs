//! Faults beyond the container lifecycle: partitions, degraded links, DNS
//! outages — each switched on by an action and healed after its duration —
//! and "chaos": fault schedules drawn per seed within the scenario's bounds
//! (swarm testing), so different seeds explore different regimes.

use super::event::Timer;
use super::record::Ev;
use super::spec::{ActionSpec, ChaosKind, ChaosSpec, DnsOutage, Link};
use super::world::World;
use crate::id::{CtrId, NetId};
use crate::rng::Rng;
use crate::time::Dur;

/// A network partition between two sets of containers.
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    pub name: String,
    pub a: Vec<usize>,
    pub b: Vec<usize>,
    /// Only traffic from `a` to `b` is dropped.
    pub one_way: bool,
    pub heal_after: Option<Dur>,
}

/// A temporary change of a network's link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Degrade {
    pub net: usize,
    pub latency: Option<Dur>,
    pub jitter: Option<Dur>,
    pub loss: Option<f64>,
    pub duplicate: f64,
    /// Probability that a packet is held back (up to twice the latency) and
    /// overtaken; TCP hides it behind in-order delivery, UDP and DNS see it.
    pub reorder: f64,
    pub duration: Dur,
}

/// What ends when a fault heals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Heal {
    Partition(usize),
    Link { net: NetId, link: Link },
    Dns,
}

impl World {
    /// Is traffic from container `src` to container `dst` cut by an active partition?
    pub(super) fn partitioned(&self, src: CtrId, dst: CtrId) -> bool {
        let idx = |c: CtrId| self.ctr_order.iter().position(|&x| x == c);
        let (Some(s), Some(d)) = (idx(src), idx(dst)) else { return false };
        self.active_partitions.iter().any(|&p| {
            let p = &self.partitions[p];
            (p.a.contains(&s) && p.b.contains(&d)) || (!p.one_way && p.b.contains(&s) && p.a.contains(&d))
        })
    }

    fn fault_record(&mut self, text: String) {
        self.last_fault = self.now;
        let text = self.sym(&text);
        self.record(None, Ev::Fault { text });
    }

    pub(super) fn start_partition(&mut self, i: usize) {
        if self.active_partitions.contains(&i) {
            return;
        }
        self.active_partitions.push(i);
        self.topology_changed();
        let p = self.partitions[i].clone();
        let names =
            |v: &[usize]| v.iter().map(|&k| self.ctrs[self.ctr_order[k]].name.clone()).collect::<Vec<_>>().join(",");
        let arrow = if p.one_way { "->" } else { "<->" };
        self.fault_record(format!("partition {} starts: {} {arrow} {}", p.name, names(&p.a), names(&p.b)));
        if let Some(d) = p.heal_after {
            self.schedule_heal(d, Heal::Partition(i));
        }
    }

    pub(super) fn start_degrade(&mut self, d: Degrade) {
        let net = self.net_order[d.net];
        let n = &mut self.nets[net];
        let saved = n.link;
        n.link.latency = d.latency.unwrap_or(saved.latency);
        n.link.jitter = d.jitter.unwrap_or(saved.jitter);
        n.link.loss = d.loss.unwrap_or(saved.loss);
        n.duplicate = d.duplicate;
        n.reorder = d.reorder;
        let l = n.link;
        let text = format!(
            "network {} degraded for {}: latency {}, jitter {}, loss {:.1}%, duplicate {:.1}%",
            n.name,
            d.duration,
            l.latency,
            l.jitter,
            l.loss * 100.0,
            d.duplicate * 100.0
        );
        self.fault_record(text);
        self.schedule_heal(d.duration, Heal::Link { net, link: saved });
    }

    pub(super) fn start_dns_outage(&mut self, o: DnsOutage, duration: Dur) {
        self.dns_outage = Some(o);
        let what = match o {
            DnsOutage::Drop => "queries dropped".to_string(),
            DnsOutage::ServFail => "SERVFAIL".to_string(),
            DnsOutage::Slow(d) => format!("answers delayed {d}"),
        };
        self.fault_record(format!("embedded DNS outage for {duration}: {what}"));
        self.schedule_heal(duration, Heal::Dns);
    }

    fn schedule_heal(&mut self, after: Dur, h: Heal) {
        self.heals.push(h);
        let i = self.heals.len() as u32 - 1;
        self.at(after, Timer::Heal { heal: i });
    }

    pub(super) fn on_heal(&mut self, i: u32) {
        match self.heals[i as usize] {
            Heal::Partition(p) => {
                self.active_partitions.retain(|&x| x != p);
                self.topology_changed();
                let name = self.partitions[p].name.clone();
                self.fault_record(format!("partition {name} healed"));
            }
            Heal::Link { net, link } => {
                let n = &mut self.nets[net];
                n.link = link;
                n.duplicate = 0.0;
                n.reorder = 0.0;
                let name = n.name.clone();
                self.fault_record(format!("network {name} restored"));
            }
            Heal::Dns => {
                self.dns_outage = None;
                self.fault_record("embedded DNS restored".into());
            }
        }
    }
}

/// Draws the chaos faults of one seed: how many, which, when, how strong.
pub fn draw_chaos(chaos: &ChaosSpec, seed: u64) -> Vec<(Dur, ActionSpec)> {
    let mut rng = Rng::fork(seed, "chaos");
    let n = rng.below(u64::from(chaos.max_faults) + 1);
    let (lo, hi) = (chaos.window.0 .0, chaos.window.1 .0.max(chaos.window.0 .0));
    let mut out = Vec::new();
    for _ in 0..n {
        if chaos.kinds.is_empty() {
            break;
        }
        let k = &chaos.kinds[rng.below(chaos.kinds.len() as u64) as usize];
        let at = Dur(lo + rng.below(hi - lo + 1));
        let pick = |rng: &mut Rng, v: &[usize]| v[rng.below(v.len() as u64) as usize];
        match k {
            ChaosKind::Crash(v) => out.push((at, ActionSpec::Crash(pick(&mut rng, v), 137))),
            ChaosKind::Restart(v) => out.push((at, ActionSpec::Restart(pick(&mut rng, v)))),
            ChaosKind::Pause(v, d) => {
                let c = pick(&mut rng, v);
                let dur = d.sample(&mut rng);
                out.push((at, ActionSpec::Pause(c)));
                out.push((at + dur, ActionSpec::Unpause(c)));
            }
            ChaosKind::Partition(p, d) => {
                let dur = d.sample(&mut rng);
                out.push((at, ActionSpec::PartitionFor(*p, dur)));
            }
            ChaosKind::Loss(net, max) => {
                let loss = rng.unit() * max;
                out.push((at, ActionSpec::DegradeLoss(*net, (loss * 1e6) as u32, Dur::secs(10))));
            }
            ChaosKind::Dns(o, d) => out.push((at, ActionSpec::Dns(*o, d.sample(&mut rng)))),
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}
