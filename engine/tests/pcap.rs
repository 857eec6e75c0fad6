//! Captures of every shipped scenario decode in tshark with no malformed
//! packets and no checksum errors, and the protocols a person looks for are
//! recognised. Needs tshark: CI installs it and sets WHARF_REQUIRE_TSHARK=1,
//! which makes its absence a failure; elsewhere the test says it skipped.

mod common;

use std::process::Command;
use wharf::run::{run, Overrides};
use wharf::scenario::load_file;

fn tshark(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark").args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn captures_decode_cleanly_in_tshark() {
    if tshark(&["--version"]).is_none() {
        assert!(std::env::var_os("WHARF_REQUIRE_TSHARK").is_none(), "tshark is required here but not installed");
        eprintln!("skipped: tshark not installed (CI installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("wharf-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = common::shipped_scenarios();
    let mut all = String::new();
    for path in files {
        let l = load_file(&path).unwrap();
        let r = run(&l, Overrides { capture: true, ..Overrides::default() });
        let caps = r.world.captured.as_deref().unwrap();
        let out = dir.join(format!("{}.pcapng", path.file_stem().unwrap().to_string_lossy()));
        let f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
        let per = if path.to_string_lossy().contains("patterns") {
            wharf::output::pcap::Per::Container
        } else {
            wharf::output::pcap::Per::Network
        };
        wharf::output::pcap::write(&r.world, caps, f, per).unwrap();
        let o = out.to_str().unwrap();
        let expert = tshark(&[
            "-r",
            o,
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-z",
            "expert",
            "-q",
        ])
        .unwrap();
        assert!(!expert.contains("Errors ("), "{}: tshark reports errors:\n{expert}", path.display());
        assert!(!expert.to_lowercase().contains("malformed"), "{}:\n{expert}", path.display());
        all.push_str(&tshark(&["-r", o]).unwrap());
    }
    for needle in [
        "Standard query 0x",
        "Standard query response",
        "No such name",
        "[SYN]",
        "[SYN, ACK]",
        "[ACK]",
        "[RST",
        "Destination unreachable (Port unreachable)",
        "Echo (ping) request",
        "Who has",
        "HTTP/1.1 200 OK",
        "RESP",
    ] {
        assert!(all.contains(needle), "no `{needle}` decoded in any capture");
    }
}
