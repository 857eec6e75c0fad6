//! Outputs a person reads: inspection agrees with the trace, logs, ps, summary, JSON.

use std::path::Path;
use wharf::output::inspect;
use wharf::run::{run, world_at, Overrides};
use wharf::scenario::load_file;
use wharf::time::Dur;

fn scenario(rel: &str) -> wharf::scenario::Loaded {
    load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(rel)).unwrap()
}

fn addresses(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| (c["Name"].as_str().unwrap().to_string(), c["IPv4Address"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn network_inspect_matches_the_trace_before_and_after_an_ip_change() {
    let l = scenario("basics/ip-change-after-recreate.ron");
    let before = inspect::network(&world_at(&l, Overrides::default(), Dur::secs(5)), "app-net").unwrap();
    assert_eq!(addresses(&before), [("db".to_string(), "172.28.5.2/24".to_string())]);
    let after = inspect::network(&world_at(&l, Overrides::default(), Dur::secs(15)), "app-net").unwrap();
    assert_eq!(
        addresses(&after),
        [("cache".to_string(), "172.28.5.2/24".to_string()), ("db".to_string(), "172.28.5.3/24".to_string())]
    );
    // The same addresses as the trace's network connect records up to then.
    let r = run(&l, Overrides::default());
    let text = r.text();
    assert!(text.lines().any(|x| x.contains("12.000000s db") && x.contains("network connect app-net ip 172.28.5.3")));
    assert!(text
        .lines()
        .any(|x| x.contains("11.000000s cache") && x.contains("network connect app-net ip 172.28.5.2")));
}

#[test]
fn container_inspect_has_health_log_restart_count_and_networks() {
    let l = scenario("lifecycle/crash-loop-backoff.ron");
    let w = world_at(&l, Overrides::default(), Dur::secs(20));
    let v = inspect::container(&w, "crash-fast").unwrap();
    assert!(v[0]["RestartCount"].as_u64().unwrap() >= 5);
    assert_eq!(v[0]["HostConfig"]["RestartPolicy"]["Name"], "always");
    let l = scenario("lifecycle/startup-race-healthcheck.ron");
    let w = world_at(&l, Overrides::default(), Dur::secs(20));
    let v = inspect::container(&w, "postgres-db").unwrap();
    assert_eq!(v[0]["State"]["Health"]["Status"], "healthy");
    assert!(v[0]["State"]["Health"]["Log"].as_array().unwrap().len() <= 5);
    assert!(v[0]["NetworkSettings"]["Networks"]["app-net"]["IPAddress"].as_str().unwrap().starts_with("172.18.0."));
    // DNSNames in moby's order, each once (the hostname is the short ID);
    // none on the default bridge.
    let l = scenario("basics/dns-user-network.ron");
    let w = world_at(&l, Overrides::default(), Dur::secs(5));
    let v = inspect::container(&w, "db").unwrap();
    let id = v[0]["Id"].as_str().unwrap()[..12].to_string();
    assert_eq!(
        v[0]["NetworkSettings"]["Networks"]["app-net"]["DNSNames"],
        serde_json::json!(["db", "database", "pg", id])
    );
    let l = scenario("basics/default-bridge-links.ron");
    let w = world_at(&l, Overrides::default(), Dur::secs(5));
    let name = w.ctrs[w.ctr_order[0]].name.clone();
    let v = inspect::container(&w, &name).unwrap();
    assert!(v[0]["NetworkSettings"]["Networks"]["bridge"]["DNSNames"].is_null(), "{v}");
}

#[test]
fn ps_logs_and_summary_read_like_docker() {
    let l = scenario("lifecycle/on-failure-gives-up.ron");
    let w = world_at(&l, Overrides::default(), Dur::secs(30));
    let ps = inspect::ps(&w);
    assert!(ps.lines().any(|x| x.contains("migrate") && x.contains("Exited (2)")), "{ps}");
    assert!(ps.lines().any(|x| x.contains("web") && x.contains("Exited (0) 25 seconds ago")), "{ps}");
    let l = scenario("basics/startup-race-retry.ron");
    let r = run(&l, Overrides::default());
    let logs = inspect::logs(&r.world, "api").unwrap();
    assert_eq!(logs.lines().filter(|x| x.contains("ECONNREFUSED")).count(), 4);
    assert!(logs.lines().all(|x| !x.contains("postgres-db  ")));
    let summary = wharf::output::summary::text(&r.world);
    assert!(summary.lines().any(|x| x.starts_with("api") && x.contains("1 ok, 4 ECONNREFUSED")), "{summary}");
}

#[test]
fn json_trace_is_one_versioned_object_per_record() {
    let l = scenario("basics/startup-race-retry.ron");
    let r = run(&l, Overrides::default());
    let json = wharf::output::trace::json_lines(&r.world);
    assert_eq!(json.lines().count(), r.world.trace.len());
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["v"], 1);
        assert!(v["t_ns"].is_u64() && v["event"].is_string());
    }
    let failed: Vec<serde_json::Value> = json
        .lines()
        .map(|x| serde_json::from_str::<serde_json::Value>(x).unwrap())
        .filter(|v| v["event"] == "connect_failed")
        .collect();
    assert_eq!(failed[0]["errno"], "ECONNREFUSED");
    assert_eq!(failed[0]["target"], "postgres-db:5432");
}

/// The pictures of the three-tier and start-up race scenarios, compared with
/// committed snapshots (`WHARF_BLESS=1` rewrites them after an intended change).
#[test]
fn svg_snapshots_are_stable() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let bless = std::env::var_os("WHARF_BLESS").is_some();
    let mut diffs = vec![];
    for (rel, name) in
        [("patterns/three-tier.ron", "three-tier"), ("basics/startup-race-retry.ron", "startup-race-retry")]
    {
        let r = run(&scenario(rel), Overrides::default());
        for (kind, text) in [
            ("timeline", wharf::output::timeline::svg(&r.world, false)),
            ("graph", wharf::output::graph::svg(&r.world)),
        ] {
            assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
            let path = dir.join(format!("{name}-{kind}.svg"));
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                diffs.push(path.display().to_string());
            }
        }
    }
    assert!(diffs.is_empty(), "SVG output changed (WHARF_BLESS=1 to accept): {diffs:?}");
}

#[test]
fn timeline_marks_failures_and_faults() {
    let r = run(&scenario("faults/partition.ron"), Overrides::default());
    let svg = wharf::output::timeline::svg(&r.world, true);
    assert!(svg.contains("partition p1 starts"), "the fault is a shaded span with its label");
    assert!(svg.contains("failed ETIMEDOUT"), "timeouts are marks with their explanation on hover");
    let html = wharf::output::timeline::html(&r.world, "partition");
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg"));
    let dot = wharf::output::graph::dot(&r.world);
    assert!(dot.contains("\"api\" -> \"db\""), "{dot}");
}

/// `-p 80` (no host port) takes the port allocator's next free port from
/// the ephemeral range at each start: a restart gets a new one. `ps` writes
/// the PORTS column as docker/cli does (runs joined, the same-port
/// mappings first), and shows none once the container stops.
#[test]
fn a_published_port_without_a_host_port_is_drawn_at_each_start() {
    let src = "Scenario(name: \"t\", networks: { \"n\": Bridge() }, containers: {
        \"a\": (networks: [\"n\"], ports: [\"80\", \"127.0.0.1::81\"], program: Server(port: 80)),
        \"b\": (networks: [\"n\"], ports: [\"9000:9000\", \"9001:9001\", \"8080:80\", \"443\"], program: Server(port: 80)),
    }, actions: [(\"5s\", Restart(\"a\")), (\"20s\", Stop(\"b\"))])";
    let l = wharf::scenario::load_str("t.ron", src).unwrap_or_else(|d| panic!("{}", d.render()));
    let ps = |secs| {
        let w = world_at(&l, Overrides::default(), Dur::secs(secs));
        let ps = inspect::ps(&w);
        let cols =
            |name: &str| ps.lines().find(|x| x.split_whitespace().nth(1) == Some(name)).unwrap_or("").to_string();
        (cols("a"), cols("b"), w)
    };
    let (a, b, w) = ps(2);
    assert!(a.contains("0.0.0.0:32768->80/tcp, 127.0.0.1:32769->81/tcp"), "{a}");
    assert!(b.contains("0.0.0.0:9000-9001->9000-9001/tcp, 0.0.0.0:8080->80/tcp, 0.0.0.0:32770->443/tcp"), "{b}");
    let v = inspect::container(&w, "a").unwrap();
    assert_eq!(v[0]["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"], "32768");
    let (a, _, _) = ps(10);
    assert!(a.contains("0.0.0.0:32771->80/tcp, 127.0.0.1:32772->81/tcp"), "after the restart: {a}");
    let (_, b, w) = ps(30);
    assert!(b.contains("Exited") && !b.contains("->"), "{b}");
    let v = inspect::container(&w, "b").unwrap();
    assert_eq!(v[0]["NetworkSettings"]["Ports"], serde_json::json!({}));
}

/// `docker inspect` lists every binding of a port (here two addresses for
/// port 80) under `NetworkSettings.Ports` while they are bound and what was
/// asked for under `HostConfig.PortBindings` (empty strings where Docker
/// chooses); `ps` aligns its columns as docker/cli's tabwriter does.
#[test]
fn inspect_lists_every_binding_and_ps_aligns_its_columns() {
    let src = "Scenario(name: \"t\", networks: { \"n\": Bridge() }, containers: {
        \"a-long-container-name\": (networks: [\"n\"], ports: [\"8080:80\", \"127.0.0.1:8081:80\", \"443\"], program: Server(port: 80)),
        \"b\": (networks: [\"n\"], program: Server(port: 80)),
    }, actions: [(\"20s\", Stop(\"a-long-container-name\"))])";
    let l = wharf::scenario::load_str("t.ron", src).unwrap_or_else(|d| panic!("{}", d.render()));
    let w = world_at(&l, Overrides::default(), Dur::secs(5));
    let v = inspect::container(&w, "a-long-container-name").unwrap();
    let asked = serde_json::json!({
        "80/tcp": [{ "HostIp": "", "HostPort": "8080" }, { "HostIp": "127.0.0.1", "HostPort": "8081" }],
        "443/tcp": [{ "HostIp": "", "HostPort": "" }],
    });
    assert_eq!(v[0]["HostConfig"]["PortBindings"], asked);
    assert_eq!(
        v[0]["NetworkSettings"]["Ports"],
        serde_json::json!({
            "80/tcp": [{ "HostIp": "0.0.0.0", "HostPort": "8080" }, { "HostIp": "127.0.0.1", "HostPort": "8081" }],
            "443/tcp": [{ "HostIp": "0.0.0.0", "HostPort": "32768" }],
        })
    );
    let ps = inspect::ps(&w);
    let lines: Vec<&str> = ps.lines().collect();
    let ports = "0.0.0.0:8080->80/tcp, 127.0.0.1:8081->80/tcp, 0.0.0.0:32768->443/tcp";
    let row = |id: &str, name: &str, ports: &str| format!("{id:<15}{name:<24}{:<15}{ports:<71}n", "Up 5 seconds");
    let id = |name: &str| w.ctrs[w.ctr_by_name(name).unwrap()].short_id.clone();
    assert_eq!(lines[0], format!("{:<15}{:<24}{:<15}{:<71}NETWORKS", "CONTAINER ID", "NAMES", "STATUS", "PORTS"));
    // The newest first, as the daemon lists them.
    assert_eq!(lines[1], row(&id("b"), "b", ""), "{ps}");
    assert_eq!(lines[2], row(&id("a-long-container-name"), "a-long-container-name", ports), "{ps}");
    let w = world_at(&l, Overrides::default(), Dur::secs(30));
    let v = inspect::container(&w, "a-long-container-name").unwrap();
    assert_eq!(v[0]["HostConfig"]["PortBindings"], asked, "kept once stopped");
    assert_eq!(v[0]["NetworkSettings"]["Ports"], serde_json::json!({}));
    let ps = inspect::ps(&w);
    let header = format!("{:<15}{:<24}{:<28}{:<10}NETWORKS", "CONTAINER ID", "NAMES", "STATUS", "PORTS");
    assert_eq!(ps.lines().next(), Some(header.as_str()), "an empty column is 10 wide:\n{ps}");
}

/// Every edge label of the graph stands on its own: where both ends of an
/// edge fan (a worker using two services that others use too) its label
/// goes to the middle of its curve instead of onto its neighbour's.
#[test]
fn graph_labels_never_stack() {
    let src = "Scenario(name: \"t\", networks: { \"n\": Bridge() }, containers: {
        \"x\": (networks: [\"n\"], program: Server(port: 80)),
        \"y\": (networks: [\"n\"], program: Server(port: 81)),
        \"a\": (networks: [\"n\"], program: Client(target: \"x:80\")),
        \"b\": (networks: [\"n\"], program: Client(target: \"y:81\")),
        \"w\": (networks: [\"n\"], program: Server(listen: false, backend: \"x:80\", also: [\"y:81\"])),
    })";
    let l = wharf::scenario::load_str("t.ron", src).unwrap_or_else(|d| panic!("{}", d.render()));
    let r = run(&l, Overrides::default());
    let svg = wharf::output::graph::svg(&r.world);
    let labels: Vec<&str> = svg
        .lines()
        .filter(|l| l.starts_with("<text") && l.contains(">n: "))
        .map(|l| &l[..l.find(" text-anchor").unwrap_or(l.len())])
        .collect();
    assert_eq!(labels.len(), 4, "{svg}");
    let mut at = labels.clone();
    at.sort();
    at.dedup();
    assert_eq!(at.len(), 4, "two labels at one place: {labels:?}");
}

/// No edge label's backing box overlaps a container's box (the boxes are
/// drawn after the labels, so an overlapped label was hidden): the columns
/// are spaced for the widest label. Every shipped scenario's graph.
#[test]
fn graph_labels_are_never_under_a_box() {
    let rect = |l: &str| {
        let num = |k: &str| -> f64 {
            let at = l.find(&format!(" {k}=\"")).unwrap() + k.len() + 3;
            l[at..at + l[at..].find('"').unwrap()].parse().unwrap()
        };
        (num("x"), num("y"), num("width"), num("height"))
    };
    let overlap = |a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)| {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    for p in files {
        let r = run(&wharf::scenario::load_file(&p).unwrap(), Overrides::default());
        let svg = wharf::output::graph::svg(&r.world);
        let labels: Vec<_> =
            svg.lines().filter(|l| l.starts_with("<rect") && l.contains("rx=\"3\"")).map(rect).collect();
        let boxes: Vec<_> =
            svg.lines().filter(|l| l.starts_with("<rect") && l.contains("rx=\"8\"")).map(rect).collect();
        for l in &labels {
            for b in &boxes {
                assert!(!overlap(*l, *b), "{}: label {l:?} under box {b:?}", p.display());
            }
        }
    }
}
