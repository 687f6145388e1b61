//! The guard in front of `/files`: a request reaches the file server only if
//! the path it names resolves (symbolic links followed) to something inside
//! the results directory. `ServeDir` refuses `..` itself, but it follows a
//! link such as `results/etcdir -> /etc` wherever it points.
//!
//! Answers: 404 for a name that does not exist (a component longer than
//! 255 bytes cannot exist, and is not even looked up), 403 for a path that
//! exists but resolves outside.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The longest file name Linux file systems take.
const NAME_MAX: usize = 255;

pub async fn guard(State(root): State<PathBuf>, request: Request, next: Next) -> Response {
    let path = decode(request.uri().path());
    match tokio::task::spawn_blocking(move || check(&root, &path)).await {
        Ok(Ok(())) => next.run(request).await,
        Ok(Err(status)) => status.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether `path` (decoded, relative to `root`) may be served.
fn check(root: &Path, path: &[u8]) -> Result<(), StatusCode> {
    let mut target = root.to_path_buf();
    for part in path.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
        if part.len() > NAME_MAX {
            return Err(StatusCode::NOT_FOUND);
        }
        if part == b".." || part == b"." || part.contains(&0) {
            return Err(StatusCode::NOT_FOUND);
        }
        target.push(std::ffi::OsStr::from_bytes(part));
    }
    let root = root.canonicalize().map_err(|_| StatusCode::NOT_FOUND)?;
    let resolved = target.canonicalize().map_err(|_| StatusCode::NOT_FOUND)?;
    if resolved.starts_with(&root) {
        Ok(())
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

/// Percent-decoding as the file server does it (`%2e%2e` is `..`).
fn decode(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_leaves_the_rest() {
        assert_eq!(decode("/a%2e%2E/b%zz%"), b"/a../b%zz%");
    }
}
