//! Headless Chromium for the tests that look at pages: Debian's `chromium`
//! (installed by `.ci/run`); tests skip their browser half, saying so, when
//! it is absent.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "../common/outside.rs"]
mod outside;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser, or `None` with a message on stderr.
pub fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    outside::require(
        "the browser checks",
        path.is_file(),
        CHROMIUM,
        "apt-get install chromium",
    )
    .then_some(path)
}

/// What a page looked like.
pub struct Rendered {
    /// The DOM after the load event.
    pub dom: String,
    /// The page's own load time (performance.now() at the load event).
    pub load_ms: u64,
    /// Wall time of the screenshot run, browser start included.
    pub wall_s: f64,
    pub screenshot: PathBuf,
}

fn base(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The DOM of `url` after loading.
pub fn dump_dom(chromium: &Path, url: &str, scratch: &Path) -> String {
    let output = base(chromium, &scratch.join("profile-dom"))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(
        output.status.success(),
        "chromium --dump-dom {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A full-page screenshot of `url` into `png`; returns the wall time.
pub fn screenshot(chromium: &Path, url: &str, png: &Path, scratch: &Path) -> f64 {
    let started = Instant::now();
    let output = base(chromium, &scratch.join("profile-shot"))
        .arg("--window-size=1280,2000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(
        output.status.success() && png.is_file(),
        "chromium --screenshot {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// Load the file `page` both ways: its DOM and a screenshot next to it.
pub fn render(chromium: &Path, page: &Path, scratch: &Path) -> Rendered {
    let url = format!("file://{}", page.display());
    let dom = dump_dom(chromium, &url, scratch);
    let screenshot = page.with_extension("png");
    let wall_s = self::screenshot(chromium, &url, &screenshot, scratch);
    // Keep a copy where a person can look at it after the test.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(
        page.parent()
            .and_then(|p| p.file_name())
            .map_or("page".into(), |n| n.to_string_lossy().into_owned())
            + ".png",
    );
    let _ = std::fs::copy(&screenshot, keep);
    let load_ms = dom
        .split("data-load-ms=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("the page records its load time");
    Rendered {
        dom,
        load_ms,
        wall_s,
        screenshot,
    }
}
