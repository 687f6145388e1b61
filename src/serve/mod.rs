//! `diverge serve`: a small web UI on loopback over a results directory.
//!
//! - `/` lists the runs, newest first, and the comparisons ([`index`]).
//! - `/files/...` serves files under the results directory only
//!   ([`inside`]): paths with `..`, or whose symbolic links lead out of the
//!   directory, are refused.

mod index;
mod inside;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::cli::ServeArgs;

/// `diverge serve`: serve until Ctrl-C; returns the exit code.
pub async fn serve(args: ServeArgs) -> Result<i32> {
    let root = args.results.clone();
    if !root.is_dir() {
        anyhow::bail!(
            "{} is not a directory (run a test first, or pass --results DIR)",
            root.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    crate::say!("serving {} at http://{addr}/", root.display());
    axum::serve(listener, router(root))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(0)
}

/// The routes over `root` (the results directory).
pub fn router(root: PathBuf) -> Router {
    Router::new()
        .route("/", get(list))
        .nest_service(
            "/files",
            Router::new()
                .fallback_service(ServeDir::new(&root))
                .layer(middleware::from_fn_with_state(root.clone(), inside::guard)),
        )
        .with_state(root)
}

async fn list(State(root): State<PathBuf>) -> Html<String> {
    let page = tokio::task::spawn_blocking(move || index::render(&root))
        .await
        .unwrap_or_else(|e| format!("listing failed: {e}"));
    Html(page)
}
