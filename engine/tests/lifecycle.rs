//! Lifecycle rules read off real traces: healthcheck timing, restart
//! backoff, names disappearing between exit and restart, Compose's messages.

use std::path::Path;
use std::process::Command;
use wharf::run::{run, Overrides, RunResult};
use wharf::scenario::{load_file, load_str};
use wharf::sim::record::Ev;
use wharf::time::{Dur, Time};

fn run_src(src: &str) -> RunResult {
    let l = load_str("test.ron", src).unwrap_or_else(|d| panic!("{}", d.render()));
    run(&l, Overrides::default())
}

fn run_file(rel: &str) -> RunResult {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(rel);
    run(&load_file(&p).unwrap(), Overrides::default())
}

fn of<'a>(r: &'a RunResult, name: &str) -> impl Iterator<Item = (Time, &'a Ev)> + 'a {
    let id = r.world.ctr_by_name(name).expect("container");
    r.world.trace.iter().filter(move |x| x.ctr == Some(id)).map(|x| (x.t, &x.ev))
}

#[test]
fn first_probe_runs_one_interval_after_start_and_then_from_the_end_of_the_last() {
    let r = run_src(
        r#"Scenario(name: "t", until: "20s", containers: {
            "db": (start_at: "2s", program: Server(port: 5432), healthcheck: (test: Tcp(5432), interval: "3s")),
        })"#,
    );
    let probes: Vec<(Time, Time)> = of(&r, "db")
        .filter_map(|(t, e)| match e {
            Ev::ProbeResult { started, .. } => Some((*started, t)),
            _ => None,
        })
        .collect();
    let start = Time::ZERO + Dur::secs(2);
    assert_eq!(probes[0].0, start + Dur::secs(3), "first probe one interval after start");
    assert_eq!(probes[1].0, probes[0].1 + Dur::secs(3), "next probe timed from the end of the previous");
    let healthy = of(&r, "db").find(|(_, e)| matches!(e, Ev::Health { .. })).unwrap().0;
    assert_eq!(healthy, probes[0].1);
}

#[test]
fn restart_delays_double_cap_at_60s_and_reset_after_a_10s_run() {
    let r = run_file("lifecycle/crash-loop-backoff.ron");
    let delays = |name| -> Vec<u64> {
        of(&r, name)
            .filter_map(|(_, e)| match e {
                Ev::Restart { delay, .. } => Some(delay.0 / 1_000_000),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        delays("crash-fast"),
        [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000]
    );
    assert_eq!(delays("flaky"), [100, 200, 400, 100]);
}

#[test]
fn a_restarting_containers_name_is_nxdomain_until_it_is_back() {
    let r = run_src(
        r#"Scenario(name: "t", until: "5s", networks: { "n": Bridge() }, containers: {
            "db": (networks: ["n"], restart: "always", startup: "0s", program: Server(port: 5432)),
            "app": (networks: ["n"], start_at: "1.05s", program: Client(target: "db:5432", retry: Fixed(delay: "40ms", attempts: 10))),
        }, actions: [("1s", Crash("db", 1))])"#,
    );
    let back = of(&r, "db").filter(|(_, e)| matches!(e, Ev::Start)).nth(1).unwrap().0;
    assert_eq!(back, Time::ZERO + Dur::millis(1100), "restart after the first 100 ms delay");
    let answers: Vec<(Time, String)> = of(&r, "app")
        .filter_map(|(t, e)| match e {
            Ev::DnsAnswer { rcode, .. } => Some((t, rcode.name().to_string())),
            _ => None,
        })
        .collect();
    assert!(answers.iter().any(|(t, rc)| *t < back && rc == "NXDOMAIN"), "{answers:?}");
    assert!(answers.iter().all(|(t, rc)| (*t < back) == (rc == "NXDOMAIN")), "{answers:?}");
    assert!(r.passed());
}

#[test]
fn a_name_asked_for_before_any_container_registered_it_resolves_once_one_does() {
    // The resolver remembers the registry's id of a name it has asked for;
    // a name nobody registered yet must be asked again, not remembered as absent.
    let r = run_src(
        r#"Scenario(name: "t", until: "3s", networks: { "n": Bridge() }, containers: {
            "app": (networks: ["n"], start_at: "0.5s", program: Client(target: "db:5432", retry: Fixed(delay: "100ms", attempts: 20))),
            "db": (networks: ["n"], start_at: "1s", startup: "0s", program: Server(port: 5432)),
        })"#,
    );
    let attached = of(&r, "db").find(|(_, e)| matches!(e, Ev::NetConnect { .. })).unwrap().0;
    let answers: Vec<(Time, String)> = of(&r, "app")
        .filter_map(|(t, e)| match e {
            Ev::DnsAnswer { rcode, .. } => Some((t, rcode.name().to_string())),
            _ => None,
        })
        .collect();
    let first_ok = answers.iter().position(|(_, rc)| rc == "NOERROR").expect("answered once db is there");
    assert!(first_ok > 0 && answers[..first_ok].iter().all(|(_, rc)| rc == "NXDOMAIN"), "{answers:?}");
    assert!(answers[first_ok].0 > attached, "{answers:?}");
    assert!(of(&r, "app").any(|(_, e)| matches!(e, Ev::Connected { .. })), "the client connects once db is known");
}

#[test]
fn restarted_container_comes_back_on_another_ip_when_its_old_one_was_taken() {
    let r = run_file("lifecycle/stale-ip-after-restart.ron");
    let ips: Vec<String> = of(&r, "db")
        .filter_map(|(_, e)| match e {
            Ev::NetConnect { ip, .. } => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ips, ["172.25.0.2", "172.25.0.5"]);
    assert!(r.passed());
}

#[test]
fn compose_error_text_and_exit_code_1_when_an_expectation_fails_because_of_it() {
    let dir = std::env::temp_dir().join(format!("wharf-life-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("unhealthy.ron");
    std::fs::write(
        &f,
        r#"Scenario(name: "t", until: "1m", containers: {
            "db": (program: Server(port: 80, status: 503), healthcheck: (test: Http(80), interval: "1s", retries: 2)),
            "api": (depends_on: { "db": (condition: Healthy) }),
        }, expect: [Eventually(in: "api", event: Started)])"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wharf")).arg("run").arg(&f).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("compose: dependency failed to start: container db is unhealthy"), "{text}");
    assert!(text.contains("[FAILED] api: eventually started"), "{text}");
    assert!(text.contains("replay: wharf run"), "{text}");
}

#[test]
fn docker_restart_of_a_process_that_ignores_sigterm_waits_for_the_grace_period() {
    let r = run_src(
        r#"Scenario(name: "t", until: "1m", containers: {
            "pid1": (on_sigterm: Ignore, stop_grace_period: "10s", program: Server(port: 80)),
        }, actions: [("1s", Restart("pid1"))])"#,
    );
    let evs: Vec<(u64, String)> = of(&r, "pid1")
        .filter(|(_, e)| matches!(e, Ev::Kill { .. } | Ev::Die { .. } | Ev::Start))
        .map(|(t, e)| (t.0 / 1_000_000, format!("{e:?}")))
        .collect();
    assert_eq!(
        evs,
        [
            (0, "Start".into()),
            (1000, "Kill { signal: 15 }".into()),
            (11000, "Kill { signal: 9 }".into()),
            (11000, "Die { code: 137 }".into()),
            (11000, "Start".into())
        ]
    );
}

/// `web` sends a request a second to `api` over one connection; `api` is
/// disconnected from the network at 4.5 s (the returned instant). `more`:
/// further containers.
fn api_disconnected_at_4500ms(more: &str) -> (RunResult, Time) {
    let r = run_src(&format!(
        r#"Scenario(name: "t", until: "12s", networks: {{ "n": Bridge() }}, containers: {{
            "api": (networks: ["n"], program: Server(port: 80)),
            "web": (networks: ["n"], start_at: "1s",
                    program: Client(target: "api:80", requests: (count: 8, interval: "1s", timeout: "500ms"))),
            {more}
        }}, actions: [("4500ms", Disconnect("api", "n"))])"#
    ));
    (r, Time::ZERO + Dur::millis(4500))
}

fn served(r: &RunResult, name: &str, when: impl Fn(Time) -> bool) -> usize {
    of(r, name).filter(|(t, e)| when(*t) && matches!(e, Ev::Served { .. })).count()
}

/// A connection's cached route must not outlive the topology: once the
/// server is disconnected from the network, the client's next request on
/// the open connection finds nobody at that address (dropped, never
/// served), although the connection's route was cached while it was there.
#[test]
fn network_disconnect_invalidates_cached_routes_of_open_connections() {
    let (r, cut) = api_disconnected_at_4500ms("");
    let served_before = served(&r, "api", |t| t < cut);
    assert!(served_before >= 3, "requests were served before the disconnect ({served_before})");
    assert_eq!(served(&r, "api", |t| t > cut), 0, "nothing reaches a disconnected server");
    let dropped_after = of(&r, "web").filter(|(t, e)| *t > cut && matches!(e, Ev::Dropped { .. })).count();
    assert!(dropped_after > 0, "the client's requests after the disconnect are dropped");
}

/// A stale IP: the server leaves the network and a new container takes its
/// address. The client's next segment on the old connection reaches the
/// newcomer, which knows no such connection and answers RST — even though
/// the segment still names the old server's connection (the engine's
/// demultiplexing shortcut must check the connection's 4-tuple and stack).
#[test]
fn a_segment_to_an_address_taken_over_by_another_container_is_reset() {
    let (r, cut) =
        api_disconnected_at_4500ms(r#""other": (networks: ["n"], start_at: "5s", program: Server(port: 80)),"#);
    let ip_of = |name: &str| {
        of(&r, name).find_map(|(_, e)| match e {
            Ev::NetConnect { ip, .. } => Some(*ip),
            _ => None,
        })
    };
    assert_eq!(ip_of("other"), ip_of("api"), "the newcomer took the server's address");
    assert_eq!(served(&r, "api", |t| t > cut), 0, "the old server gets nothing after it left");
    let reset = of(&r, "web")
        .any(|(t, e)| t > cut && matches!(e, Ev::Closed { errno: Some(wharf::proto::errno::Errno::Econnreset), .. }));
    assert!(reset, "the newcomer resets the old connection");
}

/// Linux keeps each connection's 4-tuple unique: once the ephemeral range
/// (32768–60999) wraps, ports still open to the same destination are
/// skipped, and when every one is taken connect fails with EADDRNOTAVAIL.
/// (Reusing a port would also break the engine's invariant that the
/// demultiplexing table maps each open connection to itself alone.)
#[test]
fn a_full_ephemeral_port_range_fails_connect_with_eaddrnotavail() {
    let r = run_src(
        r#"Scenario(name: "t", until: "3s", networks: { "n": Bridge() }, containers: {
            "db": (networks: ["n"], program: Server(port: 5432)),
            "app": (networks: ["n"], start_at: "1s", program: Pool(target: "db:5432", size: 28233)),
        })"#,
    );
    let connected = of(&r, "app").filter(|(_, e)| matches!(e, Ev::Connected { .. })).count();
    assert_eq!(connected, 28_232, "one connection per ephemeral port");
    let failed: Vec<_> = of(&r, "app")
        .filter_map(|(_, e)| match e {
            Ev::ConnectFailed(f) => Some((f.errno, r.world.syms.get(f.cause).to_string())),
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty(), "the pool's last connect fails");
    assert!(failed.iter().all(|(e, _)| *e == wharf::proto::errno::Errno::Eaddrnotavail), "{failed:?}");
    assert!(failed[0].1.contains("ephemeral ports"), "{}", failed[0].1);
    assert_eq!(r.world.established(), 2 * 28_232, "both ends of every connection open");
}

/// The resolver's 5 s timeout: an answer slower than that is retried (a
/// second query), a faster one is not — whether or not the engine schedules
/// the timer that could only be stale.
#[test]
fn a_dns_answer_slower_than_the_resolver_timeout_is_asked_again() {
    let attempts = |slow: &str| -> Vec<(Time, u8)> {
        let r = run_src(&format!(
            r#"Scenario(name: "t", until: "30s", networks: {{ "n": Bridge() }}, containers: {{
                "api": (networks: ["n"], program: Server(port: 80)),
                "web": (networks: ["n"], start_at: "1s", program: Client(target: "api:80")),
            }}, actions: [("500ms", DnsOutage(mode: Slow("{slow}"), for: "20s"))])"#
        ));
        of(&r, "web")
            .filter_map(|(t, e)| match e {
                Ev::DnsQuery { attempt, .. } => Some((t, *attempt)),
                _ => None,
            })
            .collect()
    };
    let fast = attempts("1s");
    assert_eq!(fast.iter().map(|a| a.1).collect::<Vec<_>>(), [1], "answered in time: one query");
    let slow = attempts("6s");
    assert_eq!(slow.iter().map(|a| a.1).collect::<Vec<_>>(), [1, 2], "timed out: asked again");
    assert_eq!(slow[1].0, slow[0].0 + Dur::secs(5), "after glibc's 5 s timeout");
}

/// `dns_options` (`--dns-option`, compose `dns_opt`) as glibc reads them:
/// with `timeout:1 attempts:3` an unanswered lookup is asked three times a
/// second apart and fails with EAI_AGAIN after 3 s, where the defaults
/// (`timeout:5 attempts:2`) take 10 s; glibc's caps (30 s, 5 attempts)
/// hold, and what it does not know is refused, located.
#[test]
fn resolver_options_set_the_lookup_timeout_and_attempts() {
    let lookups = |opts: &str| -> (Vec<Time>, Option<Time>) {
        let r = run_src(&format!(
            r#"Scenario(name: "t", until: "5m", networks: {{ "n": Bridge() }}, containers: {{
                "api": (networks: ["n"], program: Server(port: 80)),
                "web": (networks: ["n"], start_at: "1s", dns_options: [{opts}],
                        program: Client(target: "api:80", retry: Fixed(delay: "1h", attempts: 1))),
            }}, actions: [("500ms", DnsOutage(mode: Drop, for: "10m"))])"#
        ));
        let queries = of(&r, "web").filter(|(_, e)| matches!(e, Ev::DnsQuery { .. })).map(|(t, _)| t).collect();
        let failed = of(&r, "web")
            .find(|(_, e)| matches!(e, Ev::ResolveFailed { errno: wharf::proto::errno::Errno::EaiAgain, .. }))
            .map(|(t, _)| t);
        (queries, failed)
    };
    let secs = |n: u64| Time::ZERO + Dur::secs(n);
    assert_eq!(lookups(""), (vec![secs(1), secs(6)], Some(secs(11))), "glibc's defaults: 2 x 5 s");
    assert_eq!(lookups(r#""timeout:1", "attempts:3", "ndots:2""#), (vec![secs(1), secs(2), secs(3)], Some(secs(4))));
    let (queries, failed) = lookups(r#""timeout:99", "attempts:9""#);
    assert_eq!(queries.len(), 5, "at most 5 attempts");
    assert_eq!(failed, Some(secs(1 + 5 * 30)), "at most 30 s each");
    let bad = r#"Scenario(name: "t", containers: { "web": (dns_options: ["rotate", "attempts:0"]) })"#;
    let Err(d) = load_str("t.ron", bad) else { panic!("refused") };
    let text = d.render();
    assert!(
        text.contains("unknown resolver option `rotate`") && text.contains("`attempts:0` sends no query"),
        "{text}"
    );
}

/// An exec'd process that ended leaves its timers pending, addressed by its
/// process slot: the next exec takes a fresh slot, so they find a dead
/// process instead of the new one. (With slots reused, the first ping's
/// next-ping timer reached the second ping before its lookup answered, and
/// the tool panicked on the missing address.)
#[test]
fn an_ended_execs_timers_never_reach_the_next_exec() {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/patterns/debugging-tools.ron"),
    )
    .unwrap()
    .replace("(\"12s\", Exec(\"netshoot\", Ping", "(\"1ns\", Exec(\"netshoot\", Ping");
    let r = run_src(&src);
    let outputs: Vec<String> = r
        .world
        .trace
        .iter()
        .filter_map(|rec| match rec.ev {
            Ev::Output { line } => Some(r.world.syms.get(line).to_string()),
            _ => None,
        })
        .collect();
    assert!(outputs.iter().any(|l| l.starts_with("1 packets transmitted, 1 received")), "{outputs:#?}");
    assert!(outputs.iter().any(|l| l.starts_with("2 packets transmitted, 2 received")), "{outputs:#?}");
}

/// A container's endpoints are kept in libnetwork's order, not the order
/// it joined them: internal networks last, then by priority, then by
/// network name. The
/// embedded DNS answers from the first network that knows the name, so a
/// name on two shared networks resolves to its address on the one whose
/// name sorts first (`alpha`, though `zeta` is listed first), and an
/// internal network comes after both.
#[test]
fn endpoints_follow_libnetworks_order_and_dns_answers_from_the_first() {
    let r = run_src(
        r#"Scenario(name: "t", until: "5s",
            networks: { "zeta": Bridge(), "alpha": Bridge(), "inner": Bridge(internal: true) },
            containers: {
                "s": (networks: ["inner", "zeta", "alpha"], program: Server(port: 80)),
                "c": (networks: ["inner", "zeta", "alpha"], program: Client(target: "s:80")),
            })"#,
    );
    let w = &r.world;
    let s = w.ctr_by_name("s").expect("s");
    let order: Vec<&str> = w.ctrs[s].endpoints.iter().map(|e| w.nets[e.net].name.as_str()).collect();
    assert_eq!(order, ["alpha", "zeta", "inner"]);
    let alpha_ip = w.ctrs[s].endpoints[0].ip;
    let resolved = of(&r, "c").find_map(|(_, e)| match e {
        Ev::Resolved { ip, .. } => Some(*ip),
        _ => None,
    });
    assert_eq!(resolved, Some(alpha_ip), "answered from alpha, the first network that knows s");
    // A priority (compose `networks.<net>.priority`) comes before the name.
    let r = run_src(
        r#"Scenario(name: "t", until: "5s",
            networks: { "zeta": Bridge(), "alpha": Bridge(), "inner": Bridge(internal: true) },
            containers: {
                "s": (networks: ["inner", "zeta", "alpha"], priority: { "zeta": 5, "inner": 9 }, program: Server(port: 80)),
            })"#,
    );
    let w = &r.world;
    let s = w.ctr_by_name("s").expect("s");
    let order: Vec<&str> = w.ctrs[s].endpoints.iter().map(|e| w.nets[e.net].name.as_str()).collect();
    assert_eq!(order, ["zeta", "alpha", "inner"], "internal still last");
}

/// Compose visits a service once every service it depends on has started
/// (`InDependencyOrder`): a `service_started` dependency is then met at
/// once — `s` starts the instant `b` does —, while the other conditions are
/// checked by a ticker whose first tick is 500 ms after that — `w` waits
/// for `a` healthy and `b` started, `b` starts at 2.2 s, so `w` at 2.7 s,
/// not at the 2.5 s of a 500 ms grid from its own start.
#[test]
fn compose_begins_a_wait_when_the_dependencies_have_started() {
    let r = run_src(
        r#"Scenario(name: "t", until: "10s", networks: { "n": Bridge() }, containers: {
            "a": (networks: ["n"], program: Server(port: 80), healthcheck: (test: Tcp(80), interval: "1s")),
            "b": (networks: ["n"], manual_start: true, program: Server(port: 81)),
            "w": (networks: ["n"], depends_on: { "a": (condition: Healthy), "b": () }),
            "s": (networks: ["n"], depends_on: { "b": () }),
        }, actions: [("2200ms", ComposeUp("b"))])"#,
    );
    let started = |name: &str| of(&r, name).find(|(_, e)| matches!(e, Ev::Start)).map(|(t, _)| t);
    let ms = |n: u64| Some(Time::ZERO + Dur::millis(n));
    assert_eq!(started("b"), ms(2_200));
    assert_eq!(started("s"), ms(2_200), "service_started: at once");
    assert_eq!(started("w"), ms(2_700), "the first tick, 500 ms after the wait began");
}

/// A dependency the Engine refuses to start (its host port is taken) fails
/// Compose's `up` for the services that need it — they never start — while
/// one whose dependency is `required: false` goes on. (Those waiting were
/// left waiting, or started anyway if they looked after the failure.)
#[test]
fn a_dependency_that_fails_to_start_fails_those_that_need_it() {
    let r = run_src(
        r#"Scenario(name: "t", until: "5s", networks: { "n": Bridge() }, containers: {
            "a": (networks: ["n"], ports: ["8080:80"], program: Server(port: 80)),
            "db": (networks: ["n"], ports: ["8080:5432"], start_at: "1s", program: Server(port: 5432)),
            "api": (networks: ["n"], depends_on: { "db": () }, program: Server(port: 3000)),
            "tool": (networks: ["n"], depends_on: { "db": (required: false) }),
        })"#,
    );
    let w = &r.world;
    let failed: Vec<String> = of(&r, "api")
        .filter_map(|(_, e)| match e {
            Ev::ComposeFailed { message } => Some(w.syms.get(*message).to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        ["dependency failed to start: container db: Bind for 0.0.0.0:8080 failed: port is already allocated"]
    );
    assert!(!of(&r, "api").any(|(_, e)| matches!(e, Ev::Start)), "api never starts");
    assert!(of(&r, "tool").any(|(t, e)| matches!(e, Ev::Start) && t == Time::ZERO + Dur::secs(1)), "tool goes on");
}

/// A server behind a `wait-for-it.sh` gate listens only once the gate
/// opens and its start-up delay has passed; until then a caller is refused
/// and told the process is still initialising.
#[test]
fn a_gated_server_listens_after_its_gate_and_callers_are_told_why_not() {
    let r = run_src(
        r#"Scenario(name: "t", networks: {"app": Bridge()}, containers: {
            "db": (networks: ["app"], startup: "6s", program: Server(port: 5432)),
            "api": (networks: ["app"], startup: "500ms", wait_for: [WaitForIt(target: "db:5432")], program: Server(port: 3000)),
            "web": (networks: ["app"], startup: "1s", program: Client(target: "api:3000", retry: None)),
        })"#,
    );
    let cause = of(&r, "web")
        .find_map(|(_, e)| match e {
            Ev::ConnectFailed(f) => Some(r.world.syms.get(f.cause).to_string()),
            _ => None,
        })
        .expect("web is refused");
    assert!(cause.contains("its process is still initialising"), "{cause}");
    // The gate opens on the first probe after 6 s (probes at 0, 1, … s),
    // the program starts 500 ms later and listens.
    let opened = of(&r, "api").find(|(_, e)| matches!(e, Ev::Waited { ok: true, .. })).unwrap().0;
    let started = of(&r, "api").find(|(_, e)| matches!(e, Ev::ProgramStarted)).unwrap().0;
    let listens = of(&r, "api").find(|(_, e)| matches!(e, Ev::Listen { .. })).unwrap().0;
    assert!(opened > Time::ZERO + Dur::secs(6) && opened < Time::ZERO + Dur::secs(7), "{opened:?}");
    assert_eq!(started, opened + Dur::millis(500));
    assert_eq!(listens, started);
}
