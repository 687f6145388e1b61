//! Free loopback ports, found by letting the kernel pick one.

use std::net::TcpListener;

use anyhow::{Context, Result};

/// A loopback port that was free a moment ago. The window between releasing
/// it and the node binding it is tiny; a node that loses the race fails its
/// readiness check with "address in use" in its log.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind(("127.0.0.1", 0)).context("binding an ephemeral loopback port")?;
    Ok(listener.local_addr()?.port())
}
