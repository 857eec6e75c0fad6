//! DNS: Docker's embedded server (docker-facts §1) and the client-side
//! resolver cache policies (§7).
//!
//! `Registry` is the embedded server's view: names registered per network by
//! endpoint join, removed by endpoint leave. It resolves for an asker by
//! walking the asker's networks in order; the first network that knows the
//! name wins and only its addresses return. It keeps no cache (TTL 600 s is
//! stamped on answers only). `Cache` is what a client program keeps.

use crate::net::addr::Ip;
use crate::time::{Dur, Time};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::hash::Hash;

/// TTL Docker's embedded DNS stamps on every answer.
pub const EMBEDDED_TTL: Dur = Dur::secs(600);
/// glibc resolver defaults (`options timeout:5 attempts:2`).
pub const GLIBC_TIMEOUT: Dur = Dur::secs(5);
pub const GLIBC_ATTEMPTS: u8 = 2;
/// The embedded server forwards unknown names to at most 3 upstreams, 4 s each.
pub const FORWARD_TIMEOUT: Dur = Dur::secs(4);
pub const FORWARD_MAX_UPSTREAMS: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rcode {
    NoError,
    NxDomain,
    ServFail,
}

impl Rcode {
    pub fn name(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::ServFail => "SERVFAIL",
        }
    }
}

/// The holders of one name on one network, in registration order.
type Holders<C> = SmallVec<[(C, Ip); 1]>;

/// The networks where one name has holders, each with its holders.
type ByNetwork<N, C> = SmallVec<[(N, Holders<C>); 1]>;

/// `name` (then `.suffix`) lower-cased into `buf`, which is reused.
fn lowered<'b>(buf: &'b mut String, name: &str, suffix: Option<&str>) -> &'b str {
    buf.clear();
    buf.push_str(name);
    if let Some(sfx) = suffix {
        buf.push('.');
        buf.push_str(sfx);
    }
    buf.make_ascii_lowercase();
    buf
}

/// Names registered per network. `N` is the network key, `C` the holder key.
///
/// Names are interned (lower-cased, once per distinct name; a restart that
/// registers the same names again allocates no new strings) and their
/// holders are indexed by name id (ids are handed out in order, so a new
/// name's entry is appended, not hashed to a random place in a large
/// table). The hash maps use a fixed hasher (no OS-seeded state) and are
/// only looked up, never iterated, so their order cannot reach a trace;
/// the holders of one name on one network keep registration order.
#[derive(Clone, Debug)]
pub struct Registry<N: Hash + Eq + Copy, C: Hash + Eq + Copy> {
    /// Lower-cased name → its id.
    ids: FxHashMap<Box<str>, u32>,
    /// Name id → the networks where it has holders, each with its holders
    /// in registration order (usually one network, one holder).
    names: Vec<ByNetwork<N, C>>,
    /// The name ids each holder registered on each network (for `leave`).
    held: FxHashMap<(N, C), SmallVec<[u32; 4]>>,
}

impl<N: Hash + Eq + Copy, C: Hash + Eq + Copy> Default for Registry<N, C> {
    fn default() -> Self {
        Registry { ids: FxHashMap::default(), names: Vec::new(), held: FxHashMap::default() }
    }
}

impl<N: Hash + Eq + Copy, C: Hash + Eq + Copy> Registry<N, C> {
    /// Registers `names` (case-insensitive) for `holder` at `ip` on `net`,
    /// then each of them again as `name.suffix` when a suffix is given (the
    /// network-qualified names Docker also answers).
    pub fn join<S: AsRef<str>>(&mut self, net: N, holder: C, ip: Ip, names: &[S], suffix: Option<&str>) {
        let mut lower = String::new();
        let mut added = SmallVec::<[u32; 4]>::new();
        for n in names {
            added.extend(self.register(net, holder, ip, lowered(&mut lower, n.as_ref(), None)));
        }
        if let Some(sfx) = suffix {
            for n in names {
                added.extend(self.register(net, holder, ip, lowered(&mut lower, n.as_ref(), Some(sfx))));
            }
        }
        if !added.is_empty() {
            self.held.entry((net, holder)).or_default().extend(added);
        }
    }

    /// Sizes the tables for about `names` more registrations.
    pub fn reserve(&mut self, names: usize) {
        self.ids.reserve(names);
        self.names.reserve(names);
    }

    /// Registers one lower-cased name; its id if `holder` did not already
    /// hold it on `net`.
    fn register(&mut self, net: N, holder: C, ip: Ip, lower: &str) -> Option<u32> {
        let id = match self.ids.get(lower) {
            Some(&id) => id,
            None => {
                let id = self.ids.len() as u32;
                self.ids.insert(lower.into(), id);
                self.names.push(SmallVec::new());
                id
            }
        };
        let nets = &mut self.names[id as usize];
        let holders = match nets.iter().position(|(n, _)| *n == net) {
            Some(i) => &mut nets[i].1,
            None => {
                nets.push((net, Holders::new()));
                &mut nets.last_mut().expect("just pushed").1
            }
        };
        if holders.iter().any(|(c, _)| *c == holder) {
            return None;
        }
        holders.push((holder, ip));
        Some(id)
    }

    /// Removes every name `holder` had on `net`.
    pub fn leave(&mut self, net: N, holder: C) {
        let Some(ids) = self.held.remove(&(net, holder)) else {
            return;
        };
        for id in ids {
            let nets = &mut self.names[id as usize];
            if let Some(i) = nets.iter().position(|(n, _)| *n == net) {
                nets[i].1.retain(|(c, _)| *c != holder);
                if nets[i].1.is_empty() {
                    nets.remove(i);
                }
            }
        }
    }

    /// The id of a registered name (case-insensitive, a trailing dot
    /// ignored). Ids are never reused or forgotten, so a caller may keep one.
    pub fn name_id(&self, name: &str) -> Option<u32> {
        let name = name.trim_end_matches('.');
        // Names are registered lower-cased; most queries already are.
        let key: std::borrow::Cow<str> =
            if name.bytes().any(|b| b.is_ascii_uppercase()) { name.to_ascii_lowercase().into() } else { name.into() };
        self.ids.get(key.as_ref()).copied()
    }

    /// Resolves `name` for an asker attached to `nets` (in attachment order).
    /// Returns the winning network and its addresses, unshuffled.
    pub fn resolve(&self, nets: &[N], name: &str) -> Option<(N, Ips)> {
        self.resolve_id(nets, self.name_id(name)?)
    }

    /// [`Registry::resolve`] for a name already looked up with [`Registry::name_id`].
    pub fn resolve_id(&self, nets: &[N], id: u32) -> Option<(N, Ips)> {
        let known = self.names.get(id as usize)?;
        nets.iter().find_map(|&n| {
            let (_, v) = known.iter().find(|(m, _)| *m == n)?;
            // A push loop: `collect` into the SmallVec measured 2.85 → 2.92 M
            // instructions for `benches/count.sh pools 10 20 name`.
            let mut ips = Ips::new();
            for &(_, ip) in v {
                ips.push(ip);
            }
            Some((n, ips))
        })
    }
}

/// How a client program caches name resolutions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CachePolicy {
    /// glibc, musl, Node: every lookup asks the nameserver.
    #[default]
    None,
    /// nginx `proxy_pass host`: resolved once, kept for the process lifetime.
    Once,
    /// Positive answers kept `ttl`, failures kept `negative`.
    Ttl { ttl: Dur, negative: Dur },
}

impl CachePolicy {
    /// The JVM default (`networkaddress.cache.ttl` 30 s, negative 10 s).
    pub const JVM: CachePolicy = CachePolicy::Ttl { ttl: Dur::secs(30), negative: Dur::secs(10) };
}

/// The outcome of one name lookup as a program sees it.
/// The addresses of one answer: inline up to two (no allocation for the
/// usual one-address answer), in the answer's order.
pub type Ips = smallvec::SmallVec<[Ip; 2]>;

pub type Lookup = Result<Ips, crate::proto::errno::Errno>;

#[derive(Clone, Debug)]
struct Entry {
    result: Lookup,
    expires: Option<Time>,
}

/// A program's resolver cache under one policy.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    pub policy: CachePolicy,
    entries: BTreeMap<String, Entry>,
}

impl Cache {
    pub fn new(policy: CachePolicy) -> Cache {
        Cache { policy, entries: BTreeMap::new() }
    }

    pub fn get(&self, now: Time, name: &str) -> Option<&Lookup> {
        let e = self.entries.get(name)?;
        match e.expires {
            Some(t) if now >= t => None,
            _ => Some(&e.result),
        }
    }

    pub fn store(&mut self, now: Time, name: &str, result: &Lookup) {
        let expires = match (self.policy, result) {
            (CachePolicy::None, _) => return,
            (CachePolicy::Once, Ok(_)) => None,
            (CachePolicy::Once, Err(_)) => return,
            (CachePolicy::Ttl { ttl, .. }, Ok(_)) => Some(now + ttl),
            (CachePolicy::Ttl { negative, .. }, Err(_)) if negative > Dur::ZERO => Some(now + negative),
            (CachePolicy::Ttl { .. }, Err(_)) => return,
        };
        self.entries.insert(name.to_string(), Entry { result: result.clone(), expires });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::errno::Errno;

    fn ip(s: &str) -> Ip {
        s.parse().unwrap()
    }

    #[test]
    fn first_network_that_knows_the_name_wins() {
        let mut r: Registry<u8, u8> = Registry::default();
        r.join(1, 10, ip("172.18.0.2"), &["db", "Database"], None);
        r.join(2, 11, ip("172.19.0.2"), &["db"], Some("Back"));
        assert_eq!(r.resolve(&[2, 1], "DB"), Some((2, smallvec::smallvec![ip("172.19.0.2")])));
        assert_eq!(r.resolve(&[1], "database."), Some((1, smallvec::smallvec![ip("172.18.0.2")])));
        assert_eq!(r.resolve(&[3], "db"), None, "scope is the asker's networks only");
        assert_eq!(
            r.resolve(&[2], "DB.back"),
            Some((2, smallvec::smallvec![ip("172.19.0.2")])),
            "qualified by network"
        );
        assert_eq!(r.resolve(&[1], "database.back"), None, "qualified names only where a suffix was given");
    }

    #[test]
    fn several_holders_and_leave() {
        let mut r: Registry<u8, u8> = Registry::default();
        r.join(1, 10, ip("10.0.0.2"), &["web"], None);
        r.join(1, 11, ip("10.0.0.3"), &["web"], None);
        assert_eq!(r.resolve(&[1], "web").unwrap().1.len(), 2);
        r.leave(1, 10);
        assert_eq!(r.resolve(&[1], "web"), Some((1, smallvec::smallvec![ip("10.0.0.3")])));
        r.leave(1, 11);
        assert_eq!(r.resolve(&[1], "web"), None);
    }

    /// Random joins and leaves over three networks against a plain model
    /// (holders by (network, lower-cased name), in registration order):
    /// every name resolves alike for every order of the asker's networks.
    #[test]
    fn agrees_with_a_plain_model() {
        use std::collections::BTreeMap;
        let pool = ["db", "Web", "api", "DB", "cache"];
        for seed in 0..30 {
            let mut rng = crate::rng::Rng::fork(seed, "registry-test");
            let mut r: Registry<u8, u8> = Registry::default();
            let mut model: BTreeMap<(u8, String), Vec<(u8, Ip)>> = BTreeMap::new();
            for step in 0..300u32 {
                let (net, holder) = (rng.below(3) as u8, rng.below(6) as u8);
                if rng.below(3) == 0 {
                    r.leave(net, holder);
                    for ((n, _), v) in model.iter_mut() {
                        if *n == net {
                            v.retain(|(c, _)| *c != holder);
                        }
                    }
                    continue;
                }
                let names: Vec<&str> = (0..1 + rng.below(3)).map(|_| pool[rng.below(5) as usize]).collect();
                let suffix = (rng.below(2) == 0).then_some("Net");
                let addr = Ip::new(10, 0, net, step as u8);
                r.join(net, holder, addr, &names, suffix);
                let qualified = suffix.into_iter().flat_map(|s| names.iter().map(move |n| format!("{n}.{s}")));
                for name in names.iter().map(|n| n.to_string()).chain(qualified) {
                    let v = model.entry((net, name.to_ascii_lowercase())).or_default();
                    if !v.iter().any(|(c, _)| *c == holder) {
                        v.push((holder, addr));
                    }
                }
                for name in ["db", "WEB", "api.net", "Cache.NET", "absent"] {
                    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
                        let want = order.iter().find_map(|&n| {
                            let v = model.get(&(n, name.to_ascii_lowercase())).filter(|v| !v.is_empty())?;
                            Some((n, v.iter().map(|&(_, ip)| ip).collect::<Ips>()))
                        });
                        assert_eq!(r.resolve(&order, name), want, "seed {seed} step {step} {name} {order:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn cache_policies() {
        let t0 = Time(0);
        let ok: Lookup = Ok(smallvec::smallvec![ip("10.0.0.2")]);
        let mut none = Cache::new(CachePolicy::None);
        none.store(t0, "db", &ok);
        assert!(none.get(t0, "db").is_none());

        let mut once = Cache::new(CachePolicy::Once);
        once.store(t0, "db", &ok);
        assert_eq!(once.get(Time(u64::MAX - 1), "db"), Some(&ok));
        once.store(t0, "x", &Err(Errno::Enotfound));
        assert!(once.get(t0, "x").is_none());

        let mut jvm = Cache::new(CachePolicy::JVM);
        jvm.store(t0, "db", &ok);
        assert!(jvm.get(t0 + Dur::secs(29), "db").is_some());
        assert!(jvm.get(t0 + Dur::secs(30), "db").is_none());
        jvm.store(t0, "x", &Err(Errno::Enotfound));
        assert!(jvm.get(t0 + Dur::secs(9), "x").is_some());
        assert!(jvm.get(t0 + Dur::secs(10), "x").is_none());
    }
}
