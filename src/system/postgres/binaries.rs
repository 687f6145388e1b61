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

/// The major version of the `postgres` in `dir`, if it runs.
fn major_in(dir: &Path) -> Option<u32> {
    if !dir.join("initdb").is_file() {
        return None;
    }
    let output = Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
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
