//! Keys of `std::net` addresses: an IP address is a tag byte (4 or 6) and its octets, a socket
//! address its IP address and port (and, for IPv6, its flow info and scope id, which its
//! equality compares). A bare `Ipv4Addr`/`Ipv6Addr` or `SocketAddrV4`/`SocketAddrV6` keys as the
//! enum holding it, so `IpAddr::V4(ip)` and `ip` share a key.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{CacheKey, KeySink};

impl CacheKey for Ipv4Addr {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        let [a, b, c, d] = self.octets();
        out.write_bytes(&[4, a, b, c, d]);
    }
}

impl CacheKey for Ipv6Addr {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        let mut bytes = [6; 17];
        bytes[1..].copy_from_slice(&self.octets());
        out.write_bytes(&bytes);
    }
}

impl CacheKey for IpAddr {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        match self {
            IpAddr::V4(ip) => ip.write_key(out),
            IpAddr::V6(ip) => ip.write_key(out),
        }
    }
}

impl CacheKey for SocketAddrV4 {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.ip().write_key(out);
        self.port().write_key(out);
    }
}

impl CacheKey for SocketAddrV6 {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.ip().write_key(out);
        self.port().write_key(out);
        self.flowinfo().write_key(out);
        self.scope_id().write_key(out);
    }
}

impl CacheKey for SocketAddr {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        match self {
            SocketAddr::V4(addr) => addr.write_key(out),
            SocketAddr::V6(addr) => addr.write_key(out),
        }
    }
}
