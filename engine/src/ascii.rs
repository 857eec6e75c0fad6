//! Short ASCII renderings built on the stack — addresses, trace times and
//! durations, written for every trace line — without the formatter's
//! per-argument machinery. The text is exactly what the formatting they
//! replace gave (the tests compare them).

/// Up to `N` ASCII bytes.
pub struct Ascii<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Ascii<N> {
    fn default() -> Self {
        Ascii { buf: [0; N], len: 0 }
    }
}

impl<const N: usize> Ascii<N> {
    pub fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `n` in decimal, left-padded with `pad` to at least `width` digits.
    pub fn push_dec(&mut self, mut n: u64, width: usize, pad: u8) {
        let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
        let pads = width.saturating_sub(digits);
        let end = self.len + pads + digits;
        let out = &mut self.buf[self.len..end];
        out[..pads].fill(pad);
        for b in out[pads..].iter_mut().rev() {
            *b = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.len = end;
    }

    /// Dotted-quad IPv4, as `Ipv4Addr`'s `Display`.
    pub fn push_ip(&mut self, ip: std::net::Ipv4Addr) {
        for (k, o) in ip.octets().into_iter().enumerate() {
            if k > 0 {
                self.push(b'.');
            }
            self.push_dec(u64::from(o), 0, b'0');
        }
    }

    /// The text's bytes (for byte buffers: no UTF-8 validation, which on
    /// a buffer this short costs more than the rendering).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// `ip` as text, for `{}` in a format string.
pub fn ip(ip: std::net::Ipv4Addr) -> Ascii<15> {
    let mut a = Ascii::default();
    a.push_ip(ip);
    a
}

/// Formatting into the buffer (`write!`); fails when it is full.
impl<const N: usize> std::fmt::Write for Ascii<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > N || !s.is_ascii() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<const N: usize> std::fmt::Display for Ascii<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use crate::net::addr::SockAddr;
    use crate::time::Time;
    use std::net::Ipv4Addr;

    /// Against `std`'s formatting of the same values, at the edges of every
    /// width: one-, two- and three-digit octets, ports 0 and 65535, times
    /// with 1 to 6 digits of seconds and every micro-second padding.
    #[test]
    fn renders_exactly_as_the_formatter_does() {
        for &o in &[0u8, 7, 9, 10, 99, 100, 172, 255] {
            let ip = Ipv4Addr::new(o, 255 - o, 10, o / 2);
            assert_eq!(super::ip(ip).to_string(), ip.to_string());
            for &port in &[0u16, 8, 80, 443, 8080, 32768, 65535] {
                let a = SockAddr::new(ip, port);
                assert_eq!(a.to_string(), format!("{}:{}", a.ip, a.port));
            }
        }
        for &ns in &[0u64, 999, 1_000, 999_999, 1_000_000_000, 12_345_678_901, 9_999_999_999_000, 123_456_789_000_000] {
            let us = ns / 1_000;
            assert_eq!(Time(ns).to_string(), format!("{:>4}.{:06}s", us / 1_000_000, us % 1_000_000));
        }
        assert_eq!(
            Time(u64::MAX).to_string(),
            format!("{:>4}.{:06}s", u64::MAX / 1_000 / 1_000_000, (u64::MAX / 1_000) % 1_000_000)
        );
    }

    /// `Dur`'s fractional forms, written on the stack, against the previous
    /// rendering (`{:.3}` of the float into a String, zeros and point
    /// trimmed) in every unit, around rounding ties and at the extremes.
    #[test]
    fn durations_render_as_before() {
        let trim = |x: f64| format!("{x:.3}").trim_end_matches('0').trim_end_matches('.').to_string();
        let before = |n: u64| match n {
            1_000_000_000.. => format!("{}s", trim(n as f64 / 1e9)),
            1_000_000.. => format!("{}ms", trim(n as f64 / 1e6)),
            1_000.. => format!("{}us", trim(n as f64 / 1e3)),
            _ => format!("{n}ns"),
        };
        let fixed = [1, 999, 1_000, 1_234, 1_500, 10_005, 2_500_500, 999_999, 1_000_001, 1_234_567, 12_345_500];
        let edges = [1_500_000_001, 999_999_999, 999_999_500, 999_999_499, 1_999_999_999, 1 << 53, (1 << 53) - 1];
        let edges = edges.into_iter().chain([u64::MAX - 1, u64::MAX]);
        // Floats that are the midpoint itself (…0625, …1875, …: half to even).
        let exact = [1, 7, 19_366].into_iter().flat_map(|s: u64| {
            [62_500_000u64, 187_500_000, 312_500_000, 437_500_000, 562_500_000, 937_500_000]
                .into_iter()
                .flat_map(move |f| [s * 1_000_000_000 + f, s * 1_000_000 + f / 1_000])
        });
        let edges = edges.chain(exact);
        let spread = (0..5_000u64).map(|k| k * 7_919 + 1_000).chain((0..5_000u64).map(|k| k * 1_000_003_471));
        // Exactly at a rounding midpoint, in milliseconds and in seconds,
        // across magnitudes (where the float falls either side of it).
        let ties = (0..20_000u64)
            .flat_map(|k| [1_000_000 + k * 49_999_000 + 500, 1_000_000_000 + k * 450_359_000_000 + 500_000]);
        for n in fixed.into_iter().chain(edges).chain(spread).chain(ties).filter(|n| n % 1_000_000_000 != 0) {
            assert_eq!(crate::time::Dur(n).to_string(), before(n), "{n} ns");
        }
    }
}
