//! `--node-cmd` templates: the shell command that starts a node under test,
//! with placeholders filled from the node's spec (docs/node-protocol.md).

use crate::config::shell_quote;

use super::spec::NodeSpec;

/// Every placeholder a template may use.
pub const PLACEHOLDERS: [&str; 10] = [
    "id",
    "port",
    "listen",
    "data_dir",
    "peers",
    "peer_args",
    "strategy",
    "fsync",
    "id_step",
    "id_offset",
];

/// Check that `template` is non-empty, its braces balance and it names
/// only known placeholders; the problem otherwise.
pub fn check(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("the template is empty".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {template:?}"))?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// The template with every placeholder replaced by the spec's value,
/// shell-quoted where needed.
pub fn render(template: &str, spec: &NodeSpec) -> String {
    let peers = spec
        .peers
        .iter()
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect::<Vec<_>>()
        .join(",");
    let peer_args = spec
        .peers
        .iter()
        .map(|(id, addr)| format!("--peer {}", shell_quote(&format!("{id}={addr}"))))
        .collect::<Vec<_>>()
        .join(" ");
    let fsync = crate::domain::Named::name(spec.fsync);
    let values = [
        ("id", shell_quote(&spec.id)),
        ("port", spec.port.to_string()),
        ("listen", spec.addr()),
        (
            "data_dir",
            shell_quote(&spec.data_dir.display().to_string()),
        ),
        // Empty for a one-node cluster: quoted so the flag keeps its value.
        (
            "peers",
            if peers.is_empty() {
                "''".into()
            } else {
                shell_quote(&peers)
            },
        ),
        ("peer_args", peer_args),
        ("strategy", shell_quote(&spec.strategy)),
        ("fsync", fsync.to_string()),
        ("id_step", spec.id_step.to_string()),
        ("id_offset", spec.id_offset.to_string()),
    ];
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::domain::FsyncMode;

    fn spec() -> NodeSpec {
        NodeSpec {
            id: "n1".into(),
            port: 7001,
            data_dir: PathBuf::from("/tmp/run dir/n1"),
            log_path: PathBuf::from("/tmp/n1.log"),
            peers: vec![
                ("n2".into(), "127.0.0.1:8002".into()),
                ("n3".into(), "127.0.0.1:8003".into()),
            ],
            followers: Vec::new(),
            strategy: "lww".into(),
            fsync: FsyncMode::Always,
            node_bin: PathBuf::from("diverge"),
            template: None,
            id_step: 1,
            id_offset: 1,
            forward_remote: false,
            extra_args: Vec::new(),
        }
    }

    #[test]
    fn placeholders_are_filled_and_quoted() {
        let line = render(
            "node.py --id {id} --listen {listen} --port {port} --data-dir {data_dir} --peers {peers} {peer_args} --strategy {strategy} --fsync {fsync} --ids {id_offset}+{id_step}",
            &NodeSpec {
                id_step: 3,
                id_offset: 2,
                ..spec()
            },
        );
        assert_eq!(
            line,
            "node.py --id n1 --listen 127.0.0.1:7001 --port 7001 --data-dir '/tmp/run dir/n1' \
             --peers n2=127.0.0.1:8002,n3=127.0.0.1:8003 --peer n2=127.0.0.1:8002 \
             --peer n3=127.0.0.1:8003 --strategy lww --fsync always --ids 2+3"
        );
    }

    #[test]
    fn unknown_placeholders_and_empty_templates_are_refused() {
        assert!(check("node --id {id} --listen {listen}").is_ok());
        assert!(check("node {nodeid}").unwrap_err().contains("{nodeid}"));
        assert!(check("node {id").unwrap_err().contains("unclosed"));
        assert!(check("  ").is_err());
    }
}
