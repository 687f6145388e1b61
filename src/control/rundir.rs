//! The run directory: `results/<test-name>/<timestamp>/`, and the `latest`
//! links that point at the newest run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Create a fresh run directory (with `nodes/`) for `test_name` under `results`.
pub fn create(results: &Path, test_name: &str) -> Result<PathBuf> {
    let dir = create_plain(&results.join(test_name))?;
    std::fs::create_dir_all(dir.join("nodes"))
        .with_context(|| format!("creating run directory {}", dir.display()))?;
    Ok(dir)
}

/// Create a fresh `<parent>/<timestamp>/` directory.
pub fn create_plain(parent: &Path) -> Result<PathBuf> {
    let stamp = chrono::Local::now().format("%Y%m%dT%H%M%S%.3f").to_string();
    let mut dir = parent.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        dir = parent.join(format!("{stamp}-{n}"));
        n += 1;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Point `results/latest` and `results/<test>/latest` at `run_dir`
/// (relative links, so the results folder can be moved).
pub fn link_latest(results: &Path, test_name: &str, run_dir: &Path) -> Result<()> {
    let stamp = run_dir.file_name().context("run directory has no name")?;
    replace_link(&results.join("latest"), &Path::new(test_name).join(stamp))?;
    replace_link(&results.join(test_name).join("latest"), Path::new(stamp))?;
    Ok(())
}

pub fn replace_link(link: &Path, target: &Path) -> Result<()> {
    let tmp = link.with_extension("tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("linking {}", link.display()))?;
    // rename over the old link is atomic: readers never see it missing.
    std::fs::rename(&tmp, link).with_context(|| format!("replacing {}", link.display()))?;
    Ok(())
}
