//! Free loopback ports for nodes.
//!
//! Ports are drawn below the kernel's ephemeral range: ports in that range
//! are also handed to outgoing connections (a busy run makes thousands), so
//! a port found free there can be taken as a connection's source port before
//! the node binds it. Below the range only other listeners compete.

use std::net::TcpListener;

use anyhow::{Context, Result};
use rand::Rng;

/// Lowest port drawn: above the registered services most machines run.
const LOWEST: u16 = 10_000;

/// A loopback port that was free a moment ago. The window between releasing
/// it and the node binding it is tiny; a node that still loses the race
/// fails its readiness check with "address in use" in its log, and the
/// testbed starts over on fresh ports.
pub fn free_port() -> Result<u16> {
    let (ephemeral_low, _) = ephemeral_range();
    let mut rng = rand::rng();
    if ephemeral_low > LOWEST + 1000 {
        for _ in 0..64 {
            let port = rng.random_range(LOWEST..ephemeral_low);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).context("binding an ephemeral loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// The kernel's ephemeral port range (Linux default when unreadable).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_outside_the_ephemeral_range() {
        let (low, _) = ephemeral_range();
        for _ in 0..20 {
            let port = free_port().unwrap();
            assert!(
                TcpListener::bind(("127.0.0.1", port)).is_ok(),
                "port {port} was not free"
            );
            if low > LOWEST + 1000 {
                assert!(
                    (LOWEST..low).contains(&port),
                    "port {port} inside the ephemeral range from {low}"
                );
            }
        }
    }
}
