//! `diverge serve` (placeholder, filled in below).
use crate::cli::ServeArgs;
use anyhow::Result;
pub async fn serve(_args: ServeArgs) -> Result<i32> {
    Ok(0)
}
