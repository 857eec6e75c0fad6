//! wharf's property suite. CI runs the default number of cases per property
//! (64); `PROPTEST_CASES=10000 cargo test -p wharf-proptest --release` runs
//! many more. Failures proptest shrinks are kept in `regressions/properties.txt`.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use wharf::sim::record::Ev;
use wharf_proptest::{balanced, gated_dependency, healthy_dependency, reliable_queue, run_ron, topology};

/// 64 cases per property unless `PROPTEST_CASES` says otherwise; shrunk
/// failures are kept in `regressions/properties.txt` and replayed first.
fn config() -> ProptestConfig {
    let base = match std::env::var("PROPTEST_CASES") {
        Ok(_) => ProptestConfig::default(),
        Err(_) => ProptestConfig::with_cases(64),
    };
    let persistence = proptest::test_runner::FileFailurePersistence::Direct("regressions/properties.txt");
    ProptestConfig { failure_persistence: Some(Box::new(persistence)), ..base }
}

proptest! {
    #![proptest_config(config())]

    /// Same scenario and seed: the same trace bytes.
    #[test]
    fn determinism(t in topology()) {
        let src = t.to_ron();
        let (a, b) = (run_ron(&src, false), run_ron(&src, false));
        prop_assert_eq!(a.fingerprint(), b.fingerprint(), "{}", src);
    }

    /// The queue's ladder (which takes the far events once 8,192 wait in
    /// its heap) changes no trace: the same scenario with the ladder
    /// opening past one event in the heap gives the same trace bytes.
    #[test]
    fn the_queue_ladder_changes_no_trace(t in topology()) {
        let src = t.to_ron();
        let loaded = wharf::scenario::load_str("generated.ron", &src).unwrap_or_else(|d| panic!("{}\n{src}", d.render()));
        let heap = wharf::run::run(&loaded, wharf::run::Overrides::default());
        let ladder = wharf::run::run(&loaded, wharf::run::Overrides { queue_spill_over: Some(1), ..Default::default() });
        prop_assert_eq!(heap.text(), ladder.text(), "{}", src);
    }

    /// No packet between containers that share no network, or across icc=false;
    /// DNS answers only reachable, running containers; every packet sent is
    /// delivered, dropped with a reason, or in flight at the end.
    #[test]
    fn isolation_dns_scope_and_conservation(t in topology()) {
        let src = t.to_ron();
        let r = run_ron(&src, true);
        prop_assert!(r.world.checks.violations.is_empty(), "{:?}\n{}", r.world.checks.violations, src);
    }

    /// Time never goes backwards, and nothing happens in a container before it started.
    #[test]
    fn causality(t in topology()) {
        let src = t.to_ron();
        let r = run_ron(&src, false);
        let mut started = BTreeSet::new();
        let mut last = wharf::time::Time::ZERO;
        for rec in &r.world.trace {
            prop_assert!(rec.t >= last, "time went back at {:?}\n{}", rec, src);
            last = rec.t;
            let Some(c) = rec.ctr else { continue };
            match rec.ev {
                Ev::Start | Ev::NetConnect { .. } => { started.insert(c); }
                Ev::Create | Ev::ComposeWaiting { .. } | Ev::ComposeFailed { .. } | Ev::StartFailed { .. } => {}
                Ev::Stop | Ev::Remove => {}
                _ => prop_assert!(started.contains(&c), "{:?} before the container started\n{}", rec, src),
            }
        }
    }

    /// on-failure:N restarts at most N times between manual starts; no delay over 60 s.
    #[test]
    fn restart_caps(t in topology()) {
        let src = t.to_ron();
        let r = run_ron(&src, false);
        for (i, c) in t.ctrs.iter().enumerate() {
            let id = r.world.ctr_by_name(&format!("c{i}")).unwrap();
            let mut count = 0u32;
            for rec in r.world.trace.iter().filter(|x| x.ctr == Some(id)) {
                if let Ev::Restart { delay, .. } = rec.ev {
                    prop_assert!(delay <= wharf::time::Dur::secs(60));
                    count += 1;
                }
            }
            let manual_starts = t.faults.iter().filter(|(_, f)| matches!(f, wharf_proptest::Fault::Start(k) if *k == i)).count() as u32;
            if let wharf_proptest::Restart::OnFailure(n) = c.restart {
                if n > 0 {
                    prop_assert!(count <= n * (manual_starts + 1), "c{} restarted {} times with on-failure:{}\n{}", i, count, n, src);
                }
            }
            if let wharf_proptest::Restart::No = c.restart {
                prop_assert_eq!(count, 0);
            }
        }
    }

    /// With depends_on: service_healthy and a correct healthcheck, the API's
    /// connects never see ECONNREFUSED, however slow the database is.
    #[test]
    fn service_healthy_means_no_refused_connect(src in healthy_dependency()) {
        let r = run_ron(&src, true);
        let api = r.world.ctr_by_name("api").unwrap();
        let refused = r.world.trace.iter().any(|x| x.ctr == Some(api) && x.ev.errno() == Some(wharf::proto::errno::Errno::Econnrefused));
        prop_assert!(!refused, "{}", src);
        prop_assert!(r.world.trace.iter().any(|x| x.ctr == Some(api) && matches!(x.ev, Ev::Connected { .. })), "{}", src);
    }

    /// Behind a start-up gate that does not give up, a client that never
    /// retries starts only after the gate's probe connected, and its one
    /// connect succeeds, however slow the database is.
    #[test]
    fn a_gate_lets_a_non_retrying_client_in_first_time(src in gated_dependency()) {
        let r = run_ron(&src, true);
        let api = r.world.ctr_by_name("api").unwrap();
        let mine: Vec<_> = r.world.trace.iter().filter(|x| x.ctr == Some(api)).collect();
        let opened = mine.iter().position(|x| matches!(x.ev, Ev::Waited { ok: true, .. }));
        let started = mine.iter().position(|x| matches!(x.ev, Ev::ProgramStarted));
        prop_assert!(opened.is_some() && started > opened, "{}", src);
        let after: Vec<_> = mine[started.unwrap()..].iter().collect();
        prop_assert!(after.iter().all(|x| x.ev.errno().is_none()), "{}", src);
        prop_assert!(after.iter().any(|x| matches!(x.ev, Ev::Connected { .. })), "{}", src);
        prop_assert!(!mine.iter().any(|x| matches!(x.ev, Ev::Waited { ok: false, .. })), "{}", src);
    }

    /// Round-robin: requests per replica differ by at most one.
    #[test]
    fn round_robin_fairness((src, replicas, requests) in balanced()) {
        let r = run_ron(&src, true);
        let mut served: BTreeMap<String, u32> = BTreeMap::new();
        for rec in &r.world.trace {
            if let (Ev::Served { .. }, Some(c)) = (&rec.ev, rec.ctr) {
                *served.entry(r.world.ctrs[c].name.clone()).or_default() += 1;
            }
        }
        let counts: Vec<u32> = (1..=replicas).map(|k| served.get(&format!("app-{k}")).copied().unwrap_or(0)).collect();
        prop_assert_eq!(counts.iter().sum::<u32>(), requests, "{}", src);
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(hi - lo <= 1, "{:?}\n{}", counts, src);
    }

    /// The reliable queue pattern loses no task, whatever worker crashes when.
    #[test]
    fn reliable_queue_loses_nothing((src, tasks) in reliable_queue()) {
        let r = run_ron(&src, true);
        let done: BTreeSet<u32> = r.world.trace.iter().filter_map(|x| match x.ev {
            Ev::Task { id, state: wharf::container::program::TaskState::Done } => Some(id),
            _ => None,
        }).collect();
        prop_assert_eq!(done, (1..=tasks).collect::<BTreeSet<u32>>(), "{}", src);
    }
}
