//! The errors a simulated program can observe, named as real programs see them.
//! These are trace values, never Rust `Err`s of the engine.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Errno {
    /// RST in answer to a SYN: nothing listens (or bound to 127.0.0.1 only).
    Econnrefused,
    /// SYN retransmissions exhausted, or the program's own connect/request timeout.
    Etimedout,
    /// Neighbour (ARP) resolution failed: nobody holds the address.
    Ehostunreach,
    /// No route to the destination network (network `none`, `internal`).
    Enetunreach,
    /// The peer answered data on a connection it no longer knows with RST.
    Econnreset,
    /// getaddrinfo: NXDOMAIN or no record (Node's name for EAI_NONAME).
    Enotfound,
    /// getaddrinfo: SERVFAIL or no answer from any nameserver.
    EaiAgain,
    /// connect: every ephemeral port to that destination is in use.
    Eaddrnotavail,
}

impl Errno {
    pub const ALL: [Errno; 8] = [
        Errno::Econnrefused,
        Errno::Etimedout,
        Errno::Ehostunreach,
        Errno::Enetunreach,
        Errno::Econnreset,
        Errno::Enotfound,
        Errno::EaiAgain,
        Errno::Eaddrnotavail,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Errno::Econnrefused => "ECONNREFUSED",
            Errno::Etimedout => "ETIMEDOUT",
            Errno::Ehostunreach => "EHOSTUNREACH",
            Errno::Enetunreach => "ENETUNREACH",
            Errno::Econnreset => "ECONNRESET",
            Errno::Enotfound => "ENOTFOUND",
            Errno::EaiAgain => "EAI_AGAIN",
            Errno::Eaddrnotavail => "EADDRNOTAVAIL",
        }
    }

    pub fn parse(s: &str) -> Option<Errno> {
        Errno::ALL.into_iter().find(|e| e.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
