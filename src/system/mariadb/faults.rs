//! The link faults of MariaDB instances (their processes are
//! [`crate::system::instance::Instances`]): the TCP links their
//! replication connections pass through (a cut `a->b` stops `b`'s replica
//! from reading `a`'s binlog: the link closes and refuses; a hold keeps
//! the connection open and forwards nothing until released).

use std::sync::Arc;

use crate::nemesis::{CutMode, LinkFaults};
use crate::net::tcp::TcpLinks;

pub struct Targets {
    pub links: Arc<TcpLinks>,
}

impl LinkFaults for Targets {
    fn cut(&self, from: &str, to: &str, mode: CutMode, on: bool) {
        if let Some(link) = self.links.get(from, to) {
            link.update(|b| match mode {
                CutMode::Drop => b.cut = on,
                CutMode::Hold => b.hold = on,
            });
        }
    }

    fn heal_all(&self) {
        self.links.heal_all();
    }
}
