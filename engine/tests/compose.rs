//! Compose import on files the project writes, the shared corpus when
//! present, and the advisor's start-up race measurement.

use std::collections::BTreeMap;
use std::path::Path;
use wharf::run::{run, Overrides};
use wharf::scenario::compose::{import, Overlay};
use wharf::scenario::schema as s;
use wharf::scenario::{lower, to_ron};

fn read(p: &Path) -> (String, String) {
    (p.display().to_string(), std::fs::read_to_string(p).unwrap())
}

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose")
}

#[test]
fn every_compose_feature_lands_where_it_should() {
    let files =
        [read(&dir().join("features.yaml")), read(&dir().join("empty.yaml")), read(&dir().join("override.yaml"))];
    let env: BTreeMap<String, String> = [("TAG".to_string(), "1.2".to_string())].into();
    let imp = import(&files, &env, &Overlay::default(), Some(&dir())).unwrap_or_else(|d| panic!("{}", d.render()));
    let sc = &imp.scenario;
    let api = sc.containers.get("shop-api").expect("container_name");
    assert_eq!(api.service.as_deref(), Some("api"));
    assert_eq!(api.image.as_deref(), Some("example/api:1.2"));
    assert_eq!(api.hostname.as_deref(), Some("api-host"));
    assert_eq!(api.restart.as_deref(), Some("unless-stopped"), "merge key + restart beats deploy.restart_policy");
    assert_eq!(api.stop_grace_period.map(|d| d.0), Some(wharf::time::Dur::secs(90)));
    assert_eq!(api.env.get("PRICE").map(String::as_str), Some("$5"));
    assert_eq!(api.env.get("APP_MODE").map(String::as_str), Some("production"), "env_file read");
    assert_eq!(api.ports, ["8080:80", "8081:81", "127.0.0.1:9001:9000"]);
    // Compose connects a service to its networks by priority, then name.
    assert_eq!(api.networks.as_deref(), Some(&["back".to_string(), "front".to_string()][..]));
    assert_eq!(api.aliases.get("front").cloned(), Some(vec!["shop".to_string()]));
    assert!(matches!(api.healthcheck.as_ref().unwrap().test, s::HealthTest::Http(80)));
    assert!(matches!(api.depends_on.get("db").unwrap().condition, s::DepCondition::Healthy));
    assert!(!api.depends_on.get("cache").unwrap().required);
    assert!(api.depends_on.get("db").unwrap().restart);
    assert!(matches!(sc.containers.get("db").unwrap().healthcheck.as_ref().unwrap().test, s::HealthTest::Tcp(5432)));
    assert_eq!(
        sc.containers.get("db").unwrap().env.get("POSTGRES_DB").map(String::as_str),
        Some("shop"),
        "second file merged"
    );
    assert!(sc.containers.get("cache").unwrap().healthcheck.is_none(), "test: NONE");
    assert!(sc.containers.get("job").unwrap().healthcheck.is_none(), "disable: true");
    assert_eq!(sc.containers.get("job").unwrap().networks.as_deref(), Some(&["none".to_string()][..]));
    assert_eq!(sc.containers.get("sidecar").unwrap().networks.as_deref(), Some(&["container:api".to_string()][..]));
    assert_eq!(sc.containers.get("worker").unwrap().replicas, Some(2));
    assert_eq!(sc.containers.get("worker").unwrap().links, ["cache:redis"]);
    assert!(sc.containers.get("debug").is_none(), "profile not enabled");
    assert!(imp.warnings.iter().any(|w| w.contains("frobnicate")), "{:?}", imp.warnings);
    assert!(imp.warnings.iter().any(|w| w.contains("53:53/udp")), "{:?}", imp.warnings);
    assert!(imp.calls.contains(&("api".into(), "db".into(), 5432)), "DB_HOST=db names the service: {:?}", imp.calls);
    assert!(imp.calls.contains(&("worker".into(), "cache".into(), 6379)), "{:?}", imp.calls);
    lower("features.yaml", "", sc).unwrap_or_else(|d| panic!("{}", d.render()));
    let text = to_ron(sc);
    wharf::scenario::load_str("imported.ron", &text).unwrap_or_else(|d| panic!("{}\n{text}", d.render()));
}

/// `network_mode: service:X` joins X's namespace wherever the file defines
/// X (Compose creates X first); the scenario lists X first, chains too.
#[test]
fn a_shared_namespace_may_name_a_service_defined_later() {
    let src = "services:\n  app:\n    image: myapp\n    network_mode: \"service:sidecar\"\n  sidecar:\n    image: envoyproxy/envoy\n    network_mode: service:vpn\n  vpn:\n    image: qmcgaw/gluetun\n    container_name: tunnel\n";
    let imp = import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let names: Vec<&str> = imp.scenario.containers.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tunnel", "sidecar", "app"]);
    let loaded = lower("c.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let r = run(&loaded, Overrides::default());
    let text = r.text();
    // One namespace, attached once: the two joining it attach nothing.
    let connects: Vec<&str> = text.lines().filter(|l| l.contains("network connect")).collect();
    assert_eq!(connects.len(), 1, "{text}");
    assert!(connects[0].contains("tunnel"), "{text}");
    assert!(r.passed(), "{text}");
}

/// A service another waits for with `service_completed_successfully` is a
/// one-shot job (a migration, a seeder): it does its work over one
/// connection and exits 0, then the waiting service starts; one with nothing
/// to call exits 0 at once; one that cannot reach its target exits 1 and
/// the waiting service never starts.
#[test]
fn a_job_waited_for_to_complete_exits_and_releases_its_dependents() {
    let src = "services:\n  api:\n    image: node:20\n    ports: [\"3000\"]\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n      seed:\n        condition: service_completed_successfully\n  migrate:\n    image: flyway/flyway\n    depends_on:\n      db:\n        condition: service_healthy\n  seed:\n    image: busybox\n  db:\n    image: postgres:16\n    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n      interval: 2s\n";
    let summary = |overlay: &Overlay| {
        let imp = import(&[("jobs.yaml".into(), src.into())], &BTreeMap::new(), overlay, None)
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let c = &imp.scenario.containers;
        match &c.get("migrate").unwrap().program {
            s::Program::Client(cl) => {
                assert_eq!((cl.exit_when_done, cl.give_up_exit), (Some(0), Some(1)));
                assert_eq!(cl.requests.as_ref().map(|r| r.count), Some(1));
            }
            other => panic!("migrate is {other:?}"),
        }
        assert!(matches!(c.get("seed").unwrap().program, s::Program::Exit { code: 0, .. }));
        // The service waiting for them listens: it stays a server.
        assert!(matches!(&c.get("api").unwrap().program, s::Program::Server(_)));
        let loaded = lower("jobs.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
        let r = run(&loaded, Overrides::default());
        let text = r.text() + &wharf::output::summary::text(&r.world);
        let state = |name: &str| {
            let line = text.lines().find(|l| l.trim_start().starts_with(&format!("{name} "))).unwrap_or("");
            line.split_whitespace().nth(1).unwrap_or("").to_string()
                + " "
                + line.split_whitespace().nth(2).unwrap_or("")
        };
        (state("migrate"), state("seed"), state("api"), text)
    };
    let (migrate, seed, api, text) = summary(&Overlay::default());
    assert_eq!((migrate.as_str(), seed.as_str()), ("exited (0)", "exited (0)"), "{text}");
    assert!(api.starts_with("running"), "{text}");
    let died = text.find("migrate  die exitCode=0").expect("migrate exits 0");
    assert!(text[died..].contains("api      start"), "api starts after the job: {text}");

    // Pointed at a port nothing listens on, the job runs out of attempts.
    let bad = Overlay { calls: s::Ordered(vec![("migrate".into(), vec!["db:9999".into()])]), ..Overlay::default() };
    let (migrate, _, api, text) = summary(&bad);
    assert_eq!(migrate, "exited (1)", "{text}");
    assert!(api.starts_with("created"), "{text}");
}

/// `include` adds the included file's services; `extends` takes a service
/// from this file or another, resolved recursively, with the extending
/// service's keys merged over it (the base's `depends_on` kept).
#[test]
fn include_and_extends_resolve_as_compose_does() {
    let files = [read(&dir().join("include-extends.yaml"))];
    let imp = import(&files, &BTreeMap::new(), &Overlay::default(), Some(&dir()))
        .unwrap_or_else(|d| panic!("{}", d.render()));
    assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
    let c = &imp.scenario.containers;
    let names: Vec<&str> = c.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["redis", "web", "worker"]);
    assert_eq!(c.get("redis").unwrap().image.as_deref(), Some("redis:7"));
    for (name, mode, ports) in [("web", "web", vec!["8080:3000".to_string()]), ("worker", "worker", vec![])] {
        let x = c.get(name).unwrap();
        assert_eq!(x.image.as_deref(), Some("node:20"), "{name}");
        assert_eq!(x.env.get("REDIS_URL").map(String::as_str), Some("redis://redis:6379"), "{name}");
        assert_eq!(x.env.get("MODE").map(String::as_str), Some(mode), "{name}");
        assert_eq!(x.ports, ports, "{name}");
        assert!(matches!(x.depends_on.get("redis").unwrap().condition, s::DepCondition::Healthy), "{name}");
    }
    let loaded = lower("include-extends.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let r = run(&loaded, Overrides::default());
    assert!(r.passed());
    let summary = wharf::output::summary::text(&r.world);
    assert!(summary.contains("redis ") && summary.contains("healthy"), "{summary}");

    // A conflict with an included service, a cycle of extends and a missing
    // base are located errors.
    let bad = |src: &str, line: usize, msg: &str| {
        let d = import(&[("bad.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), Some(&dir()))
            .err()
            .unwrap_or_else(|| panic!("accepted: {src}"));
        let text = d.render();
        assert!(text.starts_with(&format!("bad.yaml:{line}:")) && text.contains(msg), "{text}");
    };
    bad("include:\n  - parts/cache.yaml\nservices:\n  redis:\n    image: x\n", 2, "defined here and in the included");
    bad("services:\n  a:\n    extends: b\n  b:\n    extends: a\n", 3, "extends chained more than");
    bad("services:\n  a:\n    extends:\n      service: nope\n", 3, "which this file does not define");
    bad(
        "services:\n  a:\n    extends:\n      file: parts/base.yaml\n      service: nope\n",
        3,
        "does not define `nope`",
    );
}

/// A service serves the port its own healthcheck reaches over loopback and
/// the ports other services' environments name for it, so a custom image
/// with neither `ports` nor `expose` still comes up healthy and is called.
#[test]
fn a_service_listens_where_its_healthcheck_and_its_callers_say() {
    let src = "services:\n  api:\n    image: mycorp/api\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:8000/health\"]\n      interval: 5s\n  auth:\n    image: mycorp/auth\n    sysctls:\n      net.ipv4.tcp_syn_retries: 2\n      net.ipv4.conf.all.src_valid_mark: 1\n  web:\n    image: mycorp/web\n    depends_on:\n      api:\n        condition: service_healthy\n    environment:\n      - API_URL=http://api:8000\n      - AUTH_ADDR=auth:7000\n";
    let imp = import(&[("l.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let c = &imp.scenario.containers;
    let port = |n: &str| match &c.get(n).unwrap().program {
        s::Program::Server(x) => x.port,
        other => panic!("{n} is {other:?}"),
    };
    assert_eq!((port("api"), port("auth")), (Some(8000), Some(7000)));
    assert!(matches!(c.get("api").unwrap().healthcheck.as_ref().unwrap().test, s::HealthTest::Http(8000)));
    // Of its sysctls, the one the simulation takes from Linux's defaults is
    // named in a warning; a routing mark changes nothing simulated.
    assert_eq!(
        imp.warnings,
        ["service auth: sysctls net.ipv4.tcp_syn_retries not modelled; the kernel's defaults apply"],
        "{:?}",
        imp.warnings
    );
    let loaded = lower("l.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let r = run(&loaded, Overrides::default());
    let summary = wharf::output::summary::text(&r.world);
    assert!(summary.lines().any(|l| l.starts_with("api") && l.contains("running (healthy)")), "{summary}");
    // web calls both (a worker holding a connection to each).
    assert!(summary.lines().any(|l| l.starts_with("web") && l.contains("running") && l.contains("2 ok")), "{summary}");
}

#[test]
fn interpolation_errors_and_yaml_errors_are_located() {
    let bad = ("bad.yaml".to_string(), "services:\n  a:\n    image: x\n   bad: [\n".to_string());
    let d = import(&[bad], &BTreeMap::new(), &Overlay::default(), None).err().unwrap();
    assert!(d.render().contains("bad.yaml:"), "{}", d.render());
    // The parser's own "error: line L column C:" prefix is not repeated
    // after the diagnostic's location and "error:".
    assert!(!d.render().contains("error: error:") && !d.render().contains(": line "), "{}", d.render());
    let req = ("req.yaml".to_string(), "services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n".to_string());
    let d = import(&[req], &BTreeMap::new(), &Overlay::default(), None).err().unwrap();
    assert!(d.render().contains("required variable IMAGE is missing a value: set IMAGE"), "{}", d.render());
}

fn race_seeds(file: &str, seeds: u64) -> u64 {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/compose").join(file);
    let imp = import(&[read(&p)], &BTreeMap::new(), &Overlay::default(), None).unwrap();
    let l = lower(file, "", &imp.scenario).unwrap();
    (0..seeds)
        .filter(|&seed| {
            let r = run(&l, Overrides { seed: Some(seed), ..Overrides::default() });
            let app = r.world.ctr_by_name("app").unwrap();
            r.world
                .trace
                .iter()
                .any(|x| x.ctr == Some(app) && x.ev.errno() == Some(wharf::proto::errno::Errno::Econnrefused))
        })
        .count() as u64
}

#[test]
fn the_advisors_fix_removes_the_startup_race() {
    let plain = race_seeds("startup-race.yaml", 100);
    let fixed = race_seeds("startup-race.fixed.yaml", 100);
    assert!(plain >= 50, "plain depends_on: the app is refused in most seeds ({plain}/100)");
    assert_eq!(fixed, 0, "healthcheck + service_healthy: never refused");
}

#[test]
fn the_shared_corpus_imports_runs_and_is_advised() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compose-corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("skipped: ../shared/compose-corpus not present");
        return;
    };
    let mut n = 0;
    for e in entries {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let (file, src) = read(&p);
        let imp = import(&[(file.clone(), src.clone())], &BTreeMap::new(), &Overlay::default(), p.parent())
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let l = lower(&file, "", &imp.scenario).unwrap_or_else(|d| panic!("{file}: {}", d.render()));
        let r = run(&l, Overrides { checks: true, ..Overrides::default() });
        assert!(r.world.checks.violations.is_empty(), "{file}: {:?}", r.world.checks.violations);
        let f = wharf::scenario::advise::advise(&imp.scenario, &src, Some(&l), 5);
        let _ = wharf::scenario::advise::render(&file, &src, &f);
        n += 1;
    }
    assert!(n >= 40, "{n} corpus files");
}

#[test]
fn the_overlay_overrides_the_inference() {
    let src = "services:\n  web:\n    image: nginx\n    depends_on: [api]\n  api:\n    build: .\n  db:\n    image: postgres\n";
    let files = [("o.yaml".to_string(), src.to_string())];
    let plain = import(&files, &BTreeMap::new(), &Overlay::default(), None).unwrap();
    assert!(
        matches!(plain.scenario.containers.get("api").unwrap().program, s::Program::Idle),
        "nothing says api listens"
    );
    let overlay_src = r#"(
        listens: { "api": [3000] },
        calls: { "api": ["db:5432"] },
        startup: { "db": "9s" },
        retry: Fixed(delay: "2s", attempts: 3),
    )"#;
    let opts = ron::Options::default().with_default_extension(
        ron::extensions::Extensions::IMPLICIT_SOME | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
    );
    let ov: Overlay = opts.from_str(overlay_src).unwrap();
    let imp = import(&files, &BTreeMap::new(), &ov, None).unwrap();
    let api = imp.scenario.containers.get("api").unwrap();
    let s::Program::Server(sv) = &api.program else { panic!("{:?}", api.program) };
    assert_eq!((sv.port, sv.backend.as_deref()), (Some(3000), Some("db:5432")));
    assert!(matches!(sv.backend_retry, Some(s::Retry::Fixed { attempts: 3, .. })));
    assert!(
        matches!(imp.scenario.containers.get("web").unwrap().program, s::Program::Proxy(_)),
        "nginx calling api: a proxy"
    );
    assert_eq!(
        imp.scenario.containers.get("db").unwrap().startup.map(|d| d.0.upper()),
        Some(wharf::time::Dur::secs(9))
    );
    let l = lower("o.yaml", "", &imp.scenario).unwrap();
    let r = run(&l, Overrides::default());
    let api_id = r.world.ctr_by_name("api").unwrap();
    assert!(
        r.world
            .trace
            .iter()
            .any(|x| x.ctr == Some(api_id) && matches!(x.ev, wharf::sim::record::Ev::GaveUp { attempts: 3 })),
        "3 fixed attempts 2 s apart run out before a 9 s database start"
    );
}

/// A replica count past `u32` saturates (and lowering then rejects it as too
/// many), rather than wrapping to a small count that would run silently.
#[test]
fn a_huge_scale_is_rejected_not_wrapped() {
    let yaml = "services:\n  web:\n    image: nginx\n    scale: 4294967297\n".to_string();
    let imp = import(&[("big.yml".to_string(), yaml)], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(imp.scenario.containers.get("web").and_then(|c| c.replicas), Some(u32::MAX));
    let ron = to_ron(&imp.scenario);
    let err = wharf::scenario::load_str("big.ron", &ron).expect_err("too many replicas");
    assert!(err.problems.iter().any(|p| p.message.contains("too many replicas")), "{}", err.render());
}

/// `wharf run` and `wharf advise` on a compose file write the import's
/// warnings to stderr, as `wharf import` does (they were dropped), and a
/// port spec Docker rejects is one of them instead of a wrapped mapping.
#[test]
fn run_and_advise_show_the_import_warnings() {
    let f = std::env::temp_dir().join(format!("wharf-warn-{}.yml", std::process::id()));
    std::fs::write(
        &f,
        "services:\n  web:\n    image: nginx\n    ports: [\"65535:8000-8001\", \"8080:80\"]\n    frobnicate: 1\n",
    )
    .unwrap();
    for sub in ["run", "advise", "import"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf")).arg(sub).arg(&f).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{sub}: {err}");
        assert!(err.contains("warning: service web: port `65535:8000-8001` not understood"), "{sub}: {err}");
        assert!(err.contains("frobnicate"), "{sub}: {err}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf")).arg("import").arg(&f).output().unwrap();
    let ron = String::from_utf8_lossy(&out.stdout);
    assert!(ron.contains("\"8080:80\"") && !ron.contains("65535"), "{ron}");
    let _ = std::fs::remove_file(&f);
    // A RON scenario given to `import` is named as such, with a hint.
    let ron = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/basics/startup-race-retry.ron");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf")).arg("import").arg(&ron).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a wharf scenario (RON)") && err.contains("help: "), "{err}");
}

/// Every command that takes a scenario takes a compose file too (they read
/// it as RON before, and failed on its first `#` with "Expected an
/// `#![enable(...)]` attribute"); the import's warnings go to stderr.
#[test]
fn every_scenario_command_takes_a_compose_file() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/compose/startup-race.yaml");
    let cases: [(&str, &[&str], &str); 6] = [
        ("check", &[], "ok (3 containers"),
        ("explore", &["--seeds", "0..4", "--jobs", "1"], "explored 4 seeds"),
        ("ps", &["--at", "5s"], "app       Up 5 seconds"),
        ("logs", &["app"], "compose: waiting for db"),
        ("inspect", &["--at", "5s", "network", "default"], "\"Name\": \"default\""),
        ("shrink", &["--seed", "1"], "nothing to shrink"),
    ];
    for (sub, rest, want) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf")).arg(sub).arg(&f).args(rest).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("enable(...)"), "{sub} {rest:?}: {text}");
        assert!(text.contains(want), "{sub} {rest:?}: {text}");
    }
}

/// What Compose's consistency check refuses is refused where it is written
/// (it was "unknown container" at 1:1): a dependency on an undefined
/// service, on one its profiles disable, a `network_mode: service:X`
/// naming none. An optional dependency on a disabled service is dropped
/// with a warning. `--profile` (any command; `*` for all) or
/// `COMPOSE_PROFILES` in the .env enables a profile, as in Compose.
#[test]
fn profiles_and_references_are_checked_as_compose_checks_them() {
    let check = |src: &str| import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None);
    let d = check("services:\n  web:\n    image: nginx\n    depends_on: [apx]\n  api:\n    image: x\n").err().unwrap();
    let text = d.render();
    assert!(text.contains("c.yaml:4:18: error: service \"web\" depends on undefined service \"apx\""), "{text}");
    assert!(text.contains("did you mean `api`?"), "{text}");
    let disabled = "services:\n  web:\n    image: nginx\n    depends_on:\n      api:\n        condition: service_started\n  api:\n    image: x\n    profiles: [app]\n";
    let text = check(disabled).err().unwrap().render();
    assert!(text.contains("c.yaml:5:7: error: service \"web\" depends on undefined service \"api\""), "{text}");
    assert!(text.contains("`api` is disabled by its profiles [\"app\"]"), "{text}");
    let optional = disabled.replace("service_started\n", "service_started\n        required: false\n");
    let imp = check(&optional).unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(imp.scenario.containers.0.len(), 1);
    assert!(imp.scenario.containers.0[0].1.depends_on.0.is_empty());
    assert!(imp.warnings.iter().any(|w| w.contains("optional dependency skipped")), "{:?}", imp.warnings);
    let text = check("services:\n  side:\n    image: x\n    network_mode: \"service:nope\"\n").err().unwrap().render();
    // Compose normalises `network_mode: service:X` into a dependency
    // before it checks, so that is what it names.
    assert!(text.contains("c.yaml:4:28: error: service \"side\" depends on undefined service \"nope\""), "{text}");
    let text = check("services:\n  web:\n    image: x\n    networks: [front]\nnetworks:\n  fronts: {}\n")
        .err()
        .unwrap()
        .render();
    assert!(text.contains("c.yaml:4:16: error: service \"web\" refers to undefined network front"), "{text}");
    assert!(text.contains("did you mean `fronts`?"), "{text}");

    let dir = std::env::temp_dir().join(format!("wharf-profiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("compose.yaml");
    std::fs::write(
        &f,
        disabled.replace("profiles: [app]", "profiles: [app]\n  tools:\n    image: y\n    profiles: [debug]"),
    )
    .unwrap();
    let cmd = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wharf")).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let path = f.to_str().unwrap();
    let (code, text) = cmd(&["check", path]);
    assert_eq!(code, Some(2), "{text}");
    let (code, text) = cmd(&["check", path, "--profile", "app"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok (2 containers") && text.contains("service tools skipped"), "{text}");
    let (code, text) = cmd(&["ps", "--profile", "*", path]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        ["api", "web", "tools"].iter().all(|n| text.lines().any(|l| l.split_whitespace().nth(1) == Some(n))),
        "{text}"
    );
    std::fs::write(dir.join(".env"), "COMPOSE_PROFILES=app, debug\n").unwrap();
    let (code, text) = cmd(&["check", path]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok (3 containers"), "{text}");
    let (code, text) = cmd(&["check", "--profile", "app", path]);
    assert!(code == Some(0) && text.contains("ok (2 containers"), "--profile replaces COMPOSE_PROFILES: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `dns_opt` reaches the scenario's `dns_options` for what the simulation
/// reproduces (glibc's `timeout`, `attempts`; `ndots`), and the rest is a
/// warning, not silence; compose-spec's other valid keys are not "unknown".
#[test]
fn dns_opt_passes_the_resolver_options_through() {
    let src = "services:\n  web:\n    image: x\n    dns_opt: [\"timeout:1\", \"attempts:3\", \"rotate\"]\n    ipc: host\n    pid: host\n    oom_kill_disable: true\n    annotations: {a: b}\n    frobnicate: 1\n";
    let imp = import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(imp.scenario.containers.0[0].1.dns_options, ["timeout:1", "attempts:3"]);
    assert!(imp.warnings.iter().any(|w| w.contains("dns_opt `rotate` not modelled")), "{:?}", imp.warnings);
    let unknown: Vec<&String> = imp.warnings.iter().filter(|w| w.contains("unknown key")).collect();
    assert_eq!(unknown.len(), 1, "only frobnicate: {unknown:?}");
    let loaded = lower("c.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(loaded.spec.containers[0].resolver.attempts, 3);
}

/// A service that serves and names several others (a database and a
/// cache) sends its requests to the first and holds a connection to each
/// other one from the start — a worker that listens on nothing holds one to
/// each — so a start-up race against any of them shows
/// (only the first was modelled: the nextcloud example's race against its
/// database went unseen, and it was told it talked to nobody there).
#[test]
fn a_service_using_several_others_connects_to_each() {
    let src = "services:\n  api:\n    image: myorg/api\n    ports: [\"3000:3000\"]\n    environment:\n      DATABASE_URL: postgres://app@db:5432/app\n      REDIS_URL: redis://cache:6379/0\n  worker:\n    image: myorg/worker\n    depends_on: [cache, db]\n  db:\n    image: postgres:16\n  cache:\n    image: redis:7\n";
    let imp = import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let api = &imp.scenario.containers.0.iter().find(|(n, _)| n == "api").expect("api").1;
    let s::Program::Server(sv) = &api.program else { panic!("{:?}", api.program) };
    assert_eq!((sv.backend.as_deref(), &sv.also[..]), (Some("db:5432"), &["cache:6379".to_string()][..]));
    let loaded = lower("c.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let r = run(&loaded, Overrides::default());
    let text = r.text();
    let ok = |who: &str, to: &str| {
        text.lines()
            .any(|l| l.contains(&format!(" {who} ")) && l.contains(&format!("connect {to}")) && l.contains(" ok "))
    };
    assert!(ok("api", "db:5432") && ok("api", "cache:6379"), "{text}");
    // A worker (it listens on nothing) holds a connection to each too.
    let worker = &imp.scenario.containers.0.iter().find(|(n, _)| n == "worker").expect("worker").1;
    let s::Program::Server(sv) = &worker.program else { panic!("{:?}", worker.program) };
    assert_eq!(
        (sv.listen, sv.backend.as_deref(), &sv.also[..]),
        (Some(false), Some("cache:6379"), &["db:5432".to_string()][..])
    );
    assert!(ok("worker", "cache:6379") && ok("worker", "db:5432"), "{text}");
    assert!(!text.lines().any(|l| l.contains(" worker ") && l.contains(" listen ")), "{text}");
}

/// A network's `ipam.config[].ip_range` and the bridge driver's
/// `enable_icc` reach the scenario: containers take addresses from the
/// range (a static one below it no longer collides with them), and with
/// inter-container traffic off a connect times out instead of succeeding.
#[test]
fn ip_range_and_icc_driver_options_are_imported() {
    let src = "services:\n  db:\n    image: postgres:16\n    networks:\n      app:\n        ipv4_address: 172.30.0.2\n  api:\n    image: myorg/api\n    environment: [DB=postgres://db:5432/x]\n    networks: [app]\nnetworks:\n  app:\n    driver_opts:\n      com.docker.network.bridge.enable_icc: \"false\"\n      com.docker.network.bridge.enable_ip_masquerade: \"false\"\n    ipam:\n      config:\n        - subnet: 172.30.0.0/24\n          ip_range: 172.30.0.128/25\n";
    let imp = import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let s::Network::Bridge(b) = &imp.scenario.networks.0[0].1 else { panic!("a bridge") };
    assert_eq!((b.icc, b.ip_range.map(|r| r.0.to_string())), (Some(false), Some("172.30.0.128/25".into())));
    assert!(imp.warnings.iter().any(|w| w.contains("enable_ip_masquerade` not modelled")), "{:?}", imp.warnings);
    // Go's `strconv.ParseBool` spellings; anything else is named.
    for (v, icc) in [("\"0\"", Some(false)), ("False", Some(false)), ("\"T\"", Some(true)), ("\"no\"", None)] {
        let src = format!("services:\n  a:\n    image: x\nnetworks:\n  default:\n    driver_opts:\n      com.docker.network.bridge.enable_icc: {v}\n");
        let imp = import(&[("c.yaml".into(), src)], &BTreeMap::new(), &Overlay::default(), None)
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let s::Network::Bridge(b) = &imp.scenario.networks.0[0].1 else { panic!("a bridge") };
        assert_eq!(b.icc, icc, "{v}");
        assert_eq!(
            icc.is_none(),
            imp.warnings.iter().any(|w| w.contains("is not a boolean")),
            "{v}: {:?}",
            imp.warnings
        );
    }
    let loaded = lower("c.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let r = run(&loaded, Overrides::default());
    let text = r.text();
    assert!(text.lines().any(|l| l.contains(" api ") && l.contains("network connect app ip 172.30.0.128")), "{text}");
    assert!(text.lines().any(|l| l.contains(" api ") && l.contains("ETIMEDOUT")), "icc off: {text}");
    assert!(
        !text.lines().any(|l| l.contains(" api ") && l.contains("connect db:5432") && l.contains(" ok ")),
        "{text}"
    );
}

/// Compose's normalisation: a link is a dependency (`service_started`), as
/// are `network_mode`/`ipc`/`pid` `service:X` and `volumes_from`; an
/// environment value naming a link alias (for the linking service only) or
/// a network alias names the service behind it.
#[test]
fn links_and_aliases_are_dependencies_and_names() {
    let src = "services:\n  db:\n    image: postgres:16\n    networks:\n      default:\n        aliases: [pg]\n  api:\n    image: myorg/api\n    links: [\"db:database\"]\n    environment: [DB_HOST=database]\n    ports: [\"3000:3000\"]\n  other:\n    image: myorg/other\n    environment: [DB_HOST=database]\n  report:\n    image: myorg/report\n    pid: \"service:api\"\n    volumes_from: [\"db:ro\", \"container:legacy\"]\n    environment: [PGHOST=pg]\n";
    let imp = import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let c = |n: &str| &imp.scenario.containers.0.iter().find(|(k, _)| k == n).expect(n).1;
    let deps = |n: &str| c(n).depends_on.0.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>();
    assert_eq!(deps("api"), ["db"]);
    assert_eq!(deps("report"), ["api", "db"]);
    assert!(deps("other").is_empty());
    let s::Program::Server(api) = &c("api").program else { panic!("{:?}", c("api").program) };
    assert_eq!(api.backend.as_deref(), Some("db:5432"), "DB_HOST=database is db, through api's link");
    assert!(matches!(c("other").program, s::Program::Idle), "the link alias is api's alone: {:?}", c("other").program);
    let s::Program::Server(report) = &c("report").program else { panic!("{:?}", c("report").program) };
    assert_eq!((report.listen, report.backend.as_deref()), (Some(false), Some("db:5432")), "pg is db's network alias");
    let loaded = lower("c.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let text = run(&loaded, Overrides::default()).text();
    assert!(text.contains("api     compose: waiting for db (service_started)"), "{text}");
}

/// `networks.<net>.priority` reaches the scenario and orders the endpoints.
#[test]
fn network_priority_is_imported() {
    let src = "services:\n  a:\n    image: x\n    networks:\n      front:\n        priority: 10\n      back: {}\nnetworks:\n  front: {}\n  back: {}\n";
    let imp = import(&[("c.yaml".into(), src.into())], &BTreeMap::new(), &Overlay::default(), None)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(imp.scenario.containers.0[0].1.priority.0, [("front".to_string(), 10)]);
    let loaded = lower("c.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
    let w = run(&loaded, Overrides::default()).world;
    let a = w.ctr_by_name("a").expect("a");
    let order: Vec<&str> = w.ctrs[a].endpoints.iter().map(|e| w.nets[e.net].name.as_str()).collect();
    assert_eq!(order, ["front", "back"]);
}

/// An included file is interpolated with the including project's
/// variables overridden by its own: the `.env` of its project directory,
/// or the entry's `env_file` (compose-go's `ApplyInclude`).
#[test]
fn an_include_reads_its_own_env_file() {
    let dir = std::env::temp_dir().join(format!("wharf-include-env-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/compose.yaml"),
        "services:\n  cache:\n    image: redis:${TAG}\n    hostname: ${WHO}\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/.env"), "TAG=7\n").unwrap();
    std::fs::write(dir.join("other.env"), "TAG=6\n").unwrap();
    let main = |include: &str| format!("include:\n{include}\nservices:\n  web:\n    image: nginx\n");
    let env: BTreeMap<String, String> = [("WHO".to_string(), "parent".to_string()), ("TAG".into(), "1".into())].into();
    let cache = |src: String| {
        let imp = import(&[("m.yaml".into(), src)], &env, &Overlay::default(), Some(&dir))
            .unwrap_or_else(|d| panic!("{}", d.render()));
        let c = imp.scenario.containers.0.iter().find(|(n, _)| n == "cache").expect("cache").1.clone();
        (c.image, c.hostname)
    };
    assert_eq!(cache(main("  - sub/compose.yaml")), (Some("redis:7".into()), Some("parent".into())));
    assert_eq!(
        cache(main("  - path: sub/compose.yaml\n    env_file: other.env")),
        (Some("redis:6".into()), Some("parent".into()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The advisor names a dependency by what `depends_on` and the callers use
/// — its service, though `container_name` renames its container, or an
/// alias — and words its fix after what the dependency already has.
#[test]
fn the_advisor_finds_dependencies_by_service_and_alias() {
    let advise = |src: &str| {
        let f = ("a.yaml".to_string(), src.to_string());
        let imp =
            import(&[f], &BTreeMap::new(), &Overlay::default(), None).unwrap_or_else(|d| panic!("{}", d.render()));
        let l = lower("a.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
        let found = wharf::scenario::advise::advise(&imp.scenario, src, Some(&l), 10);
        wharf::scenario::advise::render("a.yaml", src, &found)
    };
    let db = "  db:\n    image: postgres:16\n    container_name: pg\n    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n      interval: 1s\n    networks:\n      back:\n        aliases: [database]\n";
    let nets = "networks:\n  back: {}\n";
    // Plain depends_on on a service that has a healthcheck: the fix is the
    // condition alone.
    let plain = format!("services:\n  app:\n    image: node:20\n    environment:\n      DB: postgres://db:5432/x\n    depends_on: [db]\n    networks: [back]\n{db}{nets}");
    let out = advise(&plain);
    assert!(out.contains("app got ECONNREFUSED from db at start-up"), "{out}");
    assert!(out.contains("fix: db has a healthcheck: make app depend on it with condition: service_healthy"), "{out}");
    // A scenario whose client calls the database by its alias: the same
    // dependency (the import itself names the service).
    let imp = import(&[("a.yaml".to_string(), plain.clone())], &BTreeMap::new(), &Overlay::default(), None).unwrap();
    let ron = to_ron(&imp.scenario).replace("\"db:5432\"", "\"database:5432\"");
    assert!(ron.contains("\"database:5432\""), "{ron}");
    let sc = wharf::scenario::parse("a.ron", &ron).unwrap_or_else(|d| panic!("{}", d.render()));
    let l = lower("a.ron", "", &sc).unwrap_or_else(|d| panic!("{}", d.render()));
    let out = wharf::scenario::advise::render("a.ron", &ron, &wharf::scenario::advise::advise(&sc, &ron, Some(&l), 10));
    assert!(out.contains("fix: database has a healthcheck: make app depend on it"), "{out}");
    // Waiting for it healthy: no race.
    let healthy = plain.replace("depends_on: [db]", "depends_on:\n      db:\n        condition: service_healthy");
    let out = advise(&healthy);
    assert!(!out.contains("ECONNREFUSED"), "{out}");
    // service_healthy on a service (renamed by container_name) without a
    // healthcheck is found.
    let unchecked =
        healthy.replace("    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n      interval: 1s\n", "");
    let out = advise(&unchecked);
    assert!(out.contains("app waits for db to be healthy, but db has no healthcheck"), "{out}");
}

/// `wait-for-it.sh` in a service's command gates its program: the
/// script's refused probes are not a start-up race, and the program
/// connects once, after the database listens.
#[test]
fn wait_for_it_in_a_command_gates_the_program() {
    let with = "services:\n  app:\n    build: .\n    command: [\"./wait-for-it.sh\", \"db:5432\", \"-t\", \"30\", \"--\", \"node\", \"server.js\"]\n    environment:\n      DATABASE_URL: postgres://app:secret@db:5432/app\n    depends_on: [db]\n  db:\n    image: postgres:16\n";
    let without = with.replace(
        "    command: [\"./wait-for-it.sh\", \"db:5432\", \"-t\", \"30\", \"--\", \"node\", \"server.js\"]\n",
        "",
    );
    let advise = |src: &str| {
        let imp = import(&[("a.yaml".into(), src.to_string())], &BTreeMap::new(), &Overlay::default(), None).unwrap();
        let l = lower("a.yaml", "", &imp.scenario).unwrap_or_else(|d| panic!("{}", d.render()));
        let found = wharf::scenario::advise::advise(&imp.scenario, src, Some(&l), 10);
        (imp, l, wharf::scenario::advise::render("a.yaml", src, &found))
    };
    let (_, _, out) = advise(&without);
    assert!(out.contains("app got ECONNREFUSED from db at start-up"), "{out}");
    let (imp, l, out) = advise(with);
    assert!(!out.contains("ECONNREFUSED"), "{out}");
    // wait-for-it's 15 s default is shorter than elasticsearch's start-up
    // (20-40 s): the gate gives up and the program is refused.
    let slow = without
        .replace("postgres:16", "elasticsearch:8.15.0")
        .replace("    environment:", "    command: sh -c './wait-for-it.sh db:5432 -- node .'\n    environment:");
    let (_, _, slow_out) = advise(&slow);
    assert!(
        slow_out.contains("a.yaml:4:23: advice: app's wait-for-it.sh gave up on db:5432 after 15 s and ran its program anyway in 10 of 10 simulated seeds"),
        "{slow_out}"
    );
    assert!(slow_out.contains("fix: wait longer (-t 60)"), "{slow_out}");
    // eficode's wait-for counts probes: one probe, a second's sleep, then
    // exit 1 — before postgres (2-6 s) listens.
    let eficode = without.replace(
        "    environment:",
        "    command: [\"./wait-for\", \"db:5432\", \"-t\", \"1\", \"--\", \"node\", \".\"]\n    environment:",
    );
    let (_, _, out) = advise(&eficode);
    assert!(
        out.contains("advice: app's wait-for gave up on db:5432 after 1 s and exited 1 in 10 of 10 simulated seeds"),
        "{out}"
    );
    // The shell-loop form: no race either, and the loop's sleep.
    let nc = without.replace(
        "    environment:",
        "    command: sh -c 'until nc -z db 5432; do echo waiting; sleep 2; done; exec node .'\n    environment:",
    );
    let (nc_imp, _, nc_out) = advise(&nc);
    assert!(!nc_out.contains("ECONNREFUSED"), "{nc_out}");
    let gate = &nc_imp.scenario.containers.get("app").unwrap().wait_for[0];
    assert!(
        matches!(gate, s::Gate::NcLoop { target, sleep: Some(d) } if target == "db:5432" && d.0 == wharf::time::Dur::secs(2)),
        "{gate:?}"
    );
    let app = imp.scenario.containers.get("app").unwrap();
    assert_eq!(app.wait_for.len(), 1);
    assert_eq!(app.wait_for[0].target(), "db:5432");
    for seed in 0..10 {
        let r = run(&l, Overrides { seed: Some(seed), ..Overrides::default() });
        let w = &r.world;
        let (app, db) = (w.ctr_by_name("app").unwrap(), w.ctr_by_name("db").unwrap());
        let at = |c, f: &dyn Fn(&wharf::sim::record::Ev) -> bool| {
            w.trace.iter().find(|x| x.ctr == Some(c) && f(&x.ev)).map(|x| x.t).unwrap()
        };
        let listens = at(db, &|e| matches!(e, wharf::sim::record::Ev::Listen { .. }));
        let opened = at(app, &|e| matches!(e, wharf::sim::record::Ev::Waited { ok: true, .. }));
        assert!(
            opened > listens && opened < listens + wharf::time::Dur::secs(1),
            "seed {seed}: the gate opens within a second of the listen"
        );
        // The program's own connect comes after the gate and succeeds.
        let after: Vec<_> = w.trace.iter().filter(|x| x.ctr == Some(app) && x.t >= opened).collect();
        assert!(after.iter().all(|x| x.ev.errno().is_none()), "seed {seed}: no error after the gate");
    }
}

/// A strict gate on a name nothing has: the advisor says so, at the
/// container's `wait_for`.
#[test]
fn the_advisor_names_a_gate_on_a_missing_name() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/basics/wait-for-it.ron");
    let (file, src) = read(&p);
    let l = wharf::scenario::load_str(&file, &src).unwrap();
    let sc = wharf::scenario::parse(&file, &src).unwrap();
    let out = wharf::scenario::advise::render("w.ron", &src, &wharf::scenario::advise::advise(&sc, &src, Some(&l), 3));
    assert!(
        out.contains("w.ron:33:13: advice: worker's wait-for-it.sh gave up on cahce:6379 after 10 s and exited 124 in 3 of 3 simulated seeds\n    fix: no container, service or alias is named cahce: check the name"),
        "{out}"
    );
    assert!(!out.contains("api got ECONNREFUSED"), "the api's gate probes are no race: {out}");
}
