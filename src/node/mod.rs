//! Placeholder until the node shell lands (branch `node`).
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {}
pub async fn run(_args: NodeArgs) -> anyhow::Result<()> {
    anyhow::bail!("node not built yet")
}
