//! Bad input gets a located, helpful message and exit code 2; nothing panics.

use std::process::Command;
use wharf::scenario::load_str;

/// Loads `src` and returns (line, col, message, hint) of each problem.
fn problems(src: &str) -> Vec<(usize, usize, String, String)> {
    match load_str("t.ron", src) {
        Ok(_) => vec![],
        Err(d) => d
            .problems
            .iter()
            .map(|p| {
                let (l, c) = d.line_col(p.offset);
                (l, c, p.message.clone(), p.hint.clone().unwrap_or_default())
            })
            .collect(),
    }
}

fn check(src: &str, line: usize, col: usize, msg: &str, hint: &str) {
    let ps = problems(src);
    assert!(
        ps.iter().any(|(l, c, m, h)| *l == line && *c == col && m.contains(msg) && h.contains(hint)),
        "wanted {line}:{col} `{msg}` (hint `{hint}`), got {ps:#?}"
    );
}

const NETS: &str = r#"Scenario(name: "t", networks: { "app-net": Bridge() }, containers: {
  "db": (networks: ["app-net"], program: Server(port: 5432)),
  "#;

#[test]
fn unknown_network_with_suggestion() {
    check(
        &format!("{NETS}\"api\": (networks: [\"app-nett\"]),\n}})"),
        3,
        22,
        "unknown network `app-nett`",
        "did you mean `app-net`?",
    );
}

#[test]
fn unknown_container_in_link_and_expectation() {
    check(&format!("{NETS}\"api\": (links: [\"dbb\"]),\n}})"), 3, 19, "unknown container `dbb`", "did you mean `db`?");
    let src = format!("{NETS}}}, expect: [Never(in: \"nobody\", event: Started)])");
    check(&src, 3, 25, "unknown container `nobody`", "containers defined: db");
}

#[test]
fn bad_duration_points_at_the_string() {
    check("Scenario(name: \"t\",\n  until: \"5 parsecs\")", 2, 10, "unknown unit", "");
    check("Scenario(name: \"t\",\n  until: \"5\")", 2, 10, "without a unit", "");
}

#[test]
fn static_ip_on_default_bridge_and_outside_subnet() {
    let src = "Scenario(name: \"t\", containers: {\n  \"a\": (ipv4_address: { \"bridge\": \"172.17.0.9\" }),\n})";
    check(src, 2, 25, "user specified IP address is supported on user defined networks only", "user-defined network");
    let src = "Scenario(name: \"t\", networks: { \"n\": Bridge(subnet: \"10.1.0.0/24\") }, containers: {\n  \"a\": (networks: [\"n\"], ipv4_address: { \"n\": \"10.2.0.5\" }),\n})";
    check(src, 2, 42, "10.2.0.5 is not a free host address of n (10.1.0.0/24)", "");
}

#[test]
fn duplicate_names_and_unknown_fields() {
    check("Scenario(name: \"t\", containers: {\n  \"a\": (),\n  \"a\": (),\n})", 3, 3, "duplicate name `a`", "");
    check("Scenario(name: \"t\", containers: {\n  \"a\": (netwerks: [\"x\"]),\n})", 2, 17, "netwerks", "");
}

#[test]
fn malformed_syntax_is_located() {
    check("Scenario(name: \"t\",\n  containers: {\n    \"a\": (\n  }\n)", 4, 3, "", "Scenario format");
}

#[test]
fn dependency_cycle_is_named() {
    let src = "Scenario(name: \"t\", containers: {\n  \"a\": (depends_on: { \"b\": () }),\n  \"b\": (depends_on: { \"a\": () }),\n})";
    let ps = problems(src);
    assert!(ps.iter().any(|(_, _, m, _)| m == "dependency cycle: a -> b -> a"), "{ps:?}");
}

#[test]
fn bad_target_and_unset_variable() {
    check(
        "Scenario(name: \"t\", containers: {\n  \"a\": (program: Client(target: \"${DB}:5432\")),\n})",
        2,
        33,
        "variable `DB` is not set",
        "${VAR:-value}",
    );
    check(
        "Scenario(name: \"t\", containers: {\n  \"a\": (program: Client(target: \"db\")),\n})",
        2,
        33,
        "is not host:port",
        "",
    );
    // wait-for-it's `-t` is whole seconds; its target is host:port.
    check(
        "Scenario(name: \"t\", containers: {\n  \"a\": (wait_for: [WaitForIt(target: \"db:5432\", timeout: \"1.5s\")]),\n})",
        2,
        38,
        "timeout 1.5s is not whole seconds",
        "whole seconds",
    );
    check(
        "Scenario(name: \"t\", containers: {\n  \"a\": (wait_for: [NcLoop(target: \"db\")]),\n})",
        2,
        35,
        "is not host:port",
        "",
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let src = "Scenario(name: \"t\", containers: {\n  \"a\": (networks: [\"x\"]),\n  \"b\": (networks: [\"y\"], restart: \"sometimes\"),\n})";
    assert_eq!(problems(src).len(), 3);
}

#[test]
fn no_prefix_of_a_valid_file_panics() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/basics/ip-change-after-recreate.ron"
    ))
    .unwrap();
    for end in (0..src.len()).filter(|&i| src.is_char_boundary(i)) {
        let _ = load_str("prefix.ron", &src[..end]);
    }
}

#[test]
fn binary_exits_2_with_location_on_bad_input() {
    let dir = std::env::temp_dir().join(format!("wharf-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.ron");
    std::fs::write(&f, "Scenario(name: \"t\", containers: {\n  \"a\": (networks: [\"nope\"]),\n})").unwrap();
    for sub in ["run", "check"] {
        let out = Command::new(env!("CARGO_BIN_EXE_wharf")).arg(sub).arg(&f).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.ron:2:20: error: unknown network `nope`"), "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_wharf")).args(["run", "/nonexistent/x.ron"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the file"));
}

/// A picture's file name says its format: one the picture does not come in
/// is refused before the run (exit 2, nothing written), instead of SVG text
/// under a `.png` name.
#[test]
fn picture_names_must_say_a_format_they_come_in() {
    let dir = std::env::temp_dir().join(format!("wharf-pictures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/basics/startup-race-retry.ron");
    let run = |flag: &str, name: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["run", "-q", scenario, flag])
            .arg(dir.join(name))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), dir.join(name).exists())
    };
    let (code, err, written) = run("--timeline", "t.png");
    assert_eq!((code, written), (Some(2), false), "{err}");
    assert!(err.contains("must end in .svg, .html or .htm; for a PNG"), "{err}");
    let (code, err, written) = run("--graph", "g.txt");
    assert_eq!((code, written), (Some(2), false), "{err}");
    assert!(err.contains("must end in .svg, .dot or .gv"), "{err}");
    for (flag, name, head) in [("--timeline", "t.HTML", "<!doctype html>"), ("--graph", "g.gv", "digraph")] {
        let (code, err, written) = run(flag, name);
        assert_eq!((code, written), (Some(0), true), "{err}");
        assert!(std::fs::read_to_string(dir.join(name)).unwrap().starts_with(head), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_container_does_not_invent_a_cycle() {
    let src = "Scenario(name: \"t\", containers: {\n  \"api\": (program: Client(target: \"nope\")),\n  \"x\": (depends_on: {\"api\": ()}),\n})";
    let ps = problems(src);
    assert_eq!(ps.len(), 1, "{ps:?}");
    check(
        "Scenario(name: \"t\", containers: {\n  \"x\": (restart: \"sometimes\"),\n})",
        2,
        18,
        "unknown restart policy",
        "on-failure:N",
    );
}

/// A pool opens all its connections in one step: a mistyped size is a
/// located diagnostic, not an allocation that aborts the process.
#[test]
fn pool_size_is_bounded() {
    let src =
        format!("{NETS}\"app\": (networks: [\"app-net\"], program: Pool(target: \"db:5432\", size: 4000000000)),\n}})");
    check(&src, 3, 67, "pool size too large", "at most 65536");
    let ok = format!("{NETS}\"app\": (networks: [\"app-net\"], program: Pool(target: \"db:5432\", size: 65536)),\n}})");
    assert!(problems(&ok).is_empty(), "{:?}", problems(&ok));
}

/// Replicas are made when the scenario is lowered: a mistyped count is a
/// located diagnostic before any is made, not an out-of-memory abort.
#[test]
fn replicas_are_bounded() {
    let src = format!("{NETS}\"api\": (networks: [\"app-net\"], replicas: 4000000000),\n}})");
    check(&src, 3, 34, "too many replicas", "at most 1000000");
}

/// Each seed draws up to `max_faults` chaos actions at once: a mistyped
/// count is a located diagnostic, not an out-of-memory abort.
#[test]
fn chaos_fault_count_is_bounded() {
    let src =
        format!("{NETS}}},\n  chaos: (window: (\"1s\", \"2s\"), max_faults: 4294967295, faults: [Crash([\"db\"])]))");
    check(&src, 4, 33, "max_faults too large", "at most 10000");
}

/// A compose file read as a scenario (a name without .yml/.yaml) gets a
/// hint to rename it, where the generic hint pointed at the RON format.
#[test]
fn a_compose_file_read_as_ron_gets_a_rename_hint() {
    check("services:\n  web:\n    image: nginx\n", 1, 9, "Expected struct `Scenario`", "call it .yml or .yaml");
    check("# a comment\nservices:\n  web:\n    image: nginx\n", 1, 3, "enable", "call it .yml or .yaml");
    check("Scenario(name: 5)", 1, 16, "", "Scenario format");
    // A scenario whose fields start their lines keeps the format hint:
    // `name:` and `networks:` are scenario fields as well as compose keys.
    check("Scenario(\nname: \"t\",\nnetworks: 5)", 3, 11, "", "Scenario format");
}

#[test]
fn an_ip_range_outside_its_subnet() {
    let src =
        "Scenario(name: \"t\", networks: {\n  \"n\": Bridge(subnet: \"10.9.0.0/24\", ip_range: \"10.9.1.0/25\"),\n})";
    check(src, 2, 38, "ip_range 10.9.1.0/25 is not inside the subnet 10.9.0.0/24", "not a subset");
}
