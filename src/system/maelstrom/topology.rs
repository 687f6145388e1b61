//! The `topology` message the broadcast workload sends every node once,
//! before any op: Maelstrom's default grid (nodes row by row in a square,
//! each the neighbour of the nodes above, below, left and right of it).

use serde_json::{Map, Value};

/// `{node: [neighbours]}` for `ids` laid out in a grid.
pub fn grid(ids: &[String]) -> Value {
    let width = (ids.len() as f64).sqrt().ceil().max(1.0) as usize;
    let mut topology = Map::new();
    for (i, id) in ids.iter().enumerate() {
        let (row, col) = (i / width, i % width);
        let neighbours: Vec<Value> = ids
            .iter()
            .enumerate()
            .filter(|&(j, _)| {
                let (r, c) = (j / width, j % width);
                r.abs_diff(row) + c.abs_diff(col) == 1
            })
            .map(|(_, n)| Value::from(n.as_str()))
            .collect();
        topology.insert(id.clone(), Value::Array(neighbours));
    }
    Value::Object(topology)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn five_nodes_form_a_three_wide_grid() {
        let ids: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        assert_eq!(
            grid(&ids),
            json!({
                "n1": ["n2", "n4"], "n2": ["n1", "n3", "n5"], "n3": ["n2"],
                "n4": ["n1", "n5"], "n5": ["n2", "n4"],
            })
        );
    }
}
