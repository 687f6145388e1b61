//! The workloads' connection to one Maelstrom node: a client (`c1`, `c2`,
//! ... one per node) whose requests the router carries to the node's stdin
//! and whose replies it matches by `in_reply_to`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::router::Router;
use crate::workload::{CallError, MaelstromApi};

pub struct MaelstromClient {
    pub router: Arc<Router>,
    /// The node's index and id.
    pub index: usize,
    pub node: String,
    /// This client's name (`c<index+1>`).
    pub name: String,
    pub timeout: Duration,
}

#[async_trait]
impl MaelstromApi for MaelstromClient {
    fn node(&self) -> &str {
        &self.node
    }

    async fn call(&self, body: Value) -> Result<Value, CallError> {
        self.router
            .request(self.index, &self.name, body, self.timeout)
            .await
    }
}
