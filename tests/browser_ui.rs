//! What a person sees: a real run's `report.html` and the `serve` UI, opened
//! in headless Chromium (Debian's `chromium`; `.ci/run` installs it). The
//! screenshots are copied to `target/tmp/` for a look.

mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn diverge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diverge"))
        .args(args)
        .output()
        .expect("running diverge")
}

/// A short run that loses adds under partitions, into `results`.
fn lossy_run(results: &Path) -> std::path::PathBuf {
    let output = diverge(&[
        "run",
        "--results",
        results.to_str().unwrap(),
        "--time-limit",
        "3",
        "--keys",
        "1",
        "--rate",
        "0",
        "--seed",
        "1",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--quiet",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    std::fs::canonicalize(results.join("latest")).unwrap()
}

#[test]
fn the_report_shows_verdict_charts_and_anomalies() {
    let results = tempfile::tempdir().unwrap();
    let run_dir = lossy_run(results.path());
    let report = run_dir.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page fetches nothing"
    );
    let Some(chromium) = browser::chromium() else {
        return;
    };
    let page = browser::render(&chromium, &report, results.path());
    let dom = &page.dom;
    assert!(
        dom.contains(r#"<div id="verdict" class="verdict invalid">INVALID</div>"#),
        "the verdict is shown"
    );
    assert_eq!(
        dom.matches(r#"<svg class="chart""#).count(),
        4,
        "timeline, latency, throughput, replication lag"
    );
    let lag = dom
        .split(r#"aria-label="replication lag over time""#)
        .nth(1)
        .expect("the replication lag chart is drawn")
        .split("</svg>")
        .next()
        .unwrap();
    assert!(
        lag.contains(r#"<polyline class="p50""#) && lag.contains(r#"<polyline class="max""#),
        "lag lines drawn"
    );
    assert!(
        lag.contains(r#"<rect class="fault"#),
        "fault windows shaded under the lag"
    );
    assert!(
        dom.matches(r#"<rect class="cell""#).count() > 10,
        "timeline bins drawn"
    );
    assert!(dom.contains(r#"<polyline class="p99""#), "latency drawn");
    assert!(dom.contains("Binned: all "), "the binning is explained");
    assert!(
        dom.contains(r#"<rect class="fault fw0""#),
        "fault windows shaded"
    );
    assert!(dom.contains("lost-update ("), "the anomaly list is there");
    assert!(dom.matches(r#"<li class="anomaly">"#).count() > 0);
    assert!(
        dom.contains(r#"<table class="witnesses">"#),
        "witness ops quoted"
    );
    assert!(page.load_ms < 3000, "loaded in {} ms", page.load_ms);
    let png = std::fs::metadata(&page.screenshot).unwrap().len();
    assert!(png > 20_000, "the screenshot has content ({png} bytes)");
}

/// `diverge serve` on an ephemeral port, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(results: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_diverge"))
            .args([
                "serve",
                "--port",
                "0",
                "--results",
                results.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {first:?}"))
            .to_string();
        Server { child, url }
    }

    /// A raw GET (no client-side path normalisation): status code and body.
    fn get(&self, path: &str) -> (u16, String) {
        let host = self.url.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = TcpStream::connect(host).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `a/b/../c` -> `a/c`.
fn resolve(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "." => {}
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}

#[test]
fn serve_lists_runs_and_comparisons_with_working_links_and_nothing_outside() {
    let results = tempfile::tempdir().unwrap();
    lossy_run(results.path());
    let output = diverge(&[
        "compare",
        "--results",
        results.path().to_str().unwrap(),
        "--strategies",
        "lww",
        "--time-limit",
        "1",
        "--seed",
        "2",
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let server = Server::start(results.path());
    let (status, index) = server.get("/");
    assert_eq!(status, 200);
    assert!(
        index.contains(r#"<td class="invalid">invalid</td>"#),
        "{index}"
    );
    assert!(index.contains("set-lww"), "the run is listed");
    assert!(index.contains("compare.html"), "the comparison is listed");
    let links = hrefs(&index);
    assert!(links.len() >= 8, "{links:?}");
    for link in &links {
        let (status, _) = server.get(link);
        assert_eq!(status, 200, "{link}");
    }
    // The comparison's links into run directories work through the server too.
    let compare = links.iter().find(|l| l.ends_with("compare.html")).unwrap();
    let (_, page) = server.get(compare);
    let base = compare.rsplit_once('/').unwrap().0;
    for link in hrefs(&page) {
        // Resolved the way a browser resolves a relative link.
        let resolved = resolve(&format!("{base}/{link}"));
        let (status, _) = server.get(&resolved);
        assert_eq!(status, 200, "{resolved}");
    }
    // Only files under the results directory are served.
    let secret = results
        .path()
        .parent()
        .unwrap()
        .join("diverge-serve-secret.txt");
    std::fs::write(&secret, "secret").unwrap();
    for path in [
        "/files/../diverge-serve-secret.txt",
        "/files/%2e%2e/diverge-serve-secret.txt",
        "/files/..%2fdiverge-serve-secret.txt",
        "/files//etc/passwd",
        "/files/../../../../etc/passwd",
    ] {
        let (status, body) = server.get(path);
        assert!(
            status >= 400 && !body.contains("secret") && !body.contains("root:"),
            "{path} gave {status}"
        );
    }
    let _ = std::fs::remove_file(&secret);

    let Some(chromium) = browser::chromium() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let dom = browser::dump_dom(&chromium, &server.url, scratch.path());
    assert!(
        dom.contains(r#"<table id="runs">"#),
        "the runs table renders"
    );
    assert!(
        dom.contains(r#"<table id="comparisons">"#),
        "the comparisons table renders"
    );
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-index.png");
    browser::screenshot(&chromium, &server.url, &png, scratch.path());
    let report = links.iter().find(|l| l.ends_with("report.html")).unwrap();
    let dom = browser::dump_dom(
        &chromium,
        &format!("{}{}", server.url, report.trim_start_matches('/')),
        scratch.path(),
    );
    assert!(
        dom.contains(r#"class="verdict"#),
        "a run's report opens through serve"
    );
}

#[test]
fn serve_refuses_symlinks_out_of_the_results_directory_and_overlong_names() {
    let results = tempfile::tempdir().unwrap();
    let run = results.path().join("set-lww/20261203T120000.000");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("report.txt"), "the report").unwrap();
    // A link inside the directory (like `latest`) is followed...
    std::os::unix::fs::symlink("set-lww/20261203T120000.000", results.path().join("latest"))
        .unwrap();
    // ...links that leave it are not.
    std::os::unix::fs::symlink("/etc", results.path().join("etcdir")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", run.join("passwd")).unwrap();
    let server = Server::start(results.path());
    assert_eq!(
        server.get("/files/latest/report.txt"),
        (200, "the report".to_string())
    );
    for path in [
        "/files/etcdir/passwd",
        "/files/etcdir/",
        "/files/set-lww/20261203T120000.000/passwd",
        "/files/latest/passwd",
    ] {
        let (status, body) = server.get(path);
        assert!(
            status == 403 || status == 404,
            "{path} gave {status}: {body}"
        );
        assert!(!body.contains("root:"), "{path} leaked {body}");
    }
    let long = format!("/files/{}", "a".repeat(300));
    assert_eq!(server.get(&long).0, 404, "a 300-character name");
    assert_eq!(server.get("/files/nothing-here.txt").0, 404);
}
