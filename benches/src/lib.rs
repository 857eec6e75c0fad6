//! Workloads for the benchmarks, as scenario text, so they run exactly like
//! user scenarios.

use std::fmt::Write;

/// `pairs` client/server pairs on one network; each client connects once
/// (resolving the server's name through the embedded DNS), and sends
/// `requests` requests over the connection.
pub fn pairs(pairs: usize, requests: u32) -> String {
    let mut s = String::from("Scenario(name: \"pairs\", until: \"10m\", networks: { \"n\": Bridge(subnet: \"10.0.0.0/8\") }, containers: {\n");
    for i in 0..pairs {
        let _ = writeln!(s, "\"s{i}\": (networks: [\"n\"], program: Server(port: 80)),");
        let req =
            if requests > 0 { format!(", requests: (count: {requests}, interval: \"100ms\")") } else { String::new() };
        let _ =
            writeln!(s, "\"c{i}\": (networks: [\"n\"], start_at: \"1s\", program: Client(target: \"s{i}:80\"{req})),");
    }
    s.push_str("})");
    s
}

/// A microservice mesh of `n` services in call chains of ten (each service
/// calls the next in its chain, the last serves alone), with a load client
/// per chain sending a request a second for ten minutes.
pub fn mesh(n: usize) -> String {
    let mut s = String::from(
        "Scenario(name: \"mesh\", until: \"10m\", networks: { \"n\": Bridge(subnet: \"10.0.0.0/8\") }, containers: {\n",
    );
    for i in 0..n {
        let backend = if i % 10 == 9 { String::new() } else { format!(", backend: \"svc{}:80\"", i + 1) };
        let _ = writeln!(
            s,
            "\"svc{i}\": (networks: [\"n\"], startup: \"uniform(0s, 2s)\", program: Server(port: 80{backend})),"
        );
    }
    for i in 0..n / 10 {
        let _ = writeln!(
            s,
            "\"load{i}\": (networks: [\"n\"], start_at: \"5s\", program: Client(target: \"svc{}:80\", requests: (count: 600, interval: \"1s\"))),",
            i * 10
        );
    }
    s.push_str("})");
    s
}
