//! IPv4 addresses and subnets (the model is IPv4-only, like Docker's default).

use std::fmt;
use std::net::Ipv4Addr;

pub type Ip = Ipv4Addr;

/// A socket address: IPv4 and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SockAddr {
    pub ip: Ip,
    pub port: u16,
}

impl SockAddr {
    pub const fn new(ip: Ip, port: u16) -> SockAddr {
        SockAddr { ip, port }
    }

    /// `Display`'s `{}:{}` of the address and port, on the stack.
    pub fn ascii(self) -> crate::ascii::Ascii<21> {
        let mut a = crate::ascii::Ascii::<21>::default();
        a.push_ip(self.ip);
        a.push(b':');
        a.push_dec(u64::from(self.port), 0, b'0');
        a
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ascii().as_str())
    }
}

/// An IPv4 subnet `base/prefix`; `base` has no host bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    pub base: u32,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(ip: Ip, prefix: u8) -> Subnet {
        let mask = mask(prefix);
        Subnet { base: u32::from(ip) & mask, prefix }
    }

    pub fn parse(s: &str) -> Result<Subnet, String> {
        let (ip, prefix) =
            s.split_once('/').ok_or_else(|| format!("`{s}` is not a subnet (expected CIDR like 172.20.0.0/16)"))?;
        let ip: Ip = ip.parse().map_err(|_| format!("`{ip}` is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("prefix `/{prefix}` must be between /8 and /30"))?;
        let net = Subnet::new(ip, prefix);
        if u32::from(ip) != net.base {
            return Err(format!("`{s}` has host bits set (did you mean {net}?)"));
        }
        Ok(net)
    }

    pub fn contains(&self, ip: Ip) -> bool {
        u32::from(ip) & mask(self.prefix) == self.base
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        self.base & mask(p) == other.base & mask(p)
    }

    /// Number of addresses, including network and broadcast.
    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    /// The address at host offset `n` (0 = the network address).
    pub fn host(&self, n: u32) -> Ip {
        Ip::from(self.base + n)
    }

    pub fn offset_of(&self, ip: Ip) -> u32 {
        u32::from(ip) - self.base
    }

    pub fn broadcast(&self) -> Ip {
        self.host(self.size() - 1)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ip::from(self.base), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_parse_and_contains() {
        let s = Subnet::parse("172.18.0.0/16").unwrap();
        assert!(s.contains("172.18.3.4".parse().unwrap()));
        assert!(!s.contains("172.19.0.1".parse().unwrap()));
        assert_eq!(s.broadcast(), "172.18.255.255".parse::<Ip>().unwrap());
        assert!(Subnet::parse("172.18.0.1/16").is_err());
        assert!(Subnet::parse("172.18.0.0").is_err());
        assert!(Subnet::parse("172.18.0.0/40").is_err());
    }

    #[test]
    fn overlap() {
        let a = Subnet::parse("172.20.0.0/14").unwrap();
        let b = Subnet::parse("172.21.0.0/16").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&Subnet::parse("172.24.0.0/16").unwrap()));
    }
}
