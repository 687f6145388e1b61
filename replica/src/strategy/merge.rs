//! Deterministic merging of concurrent values (`--strategy merge`) and the
//! canonical order of JSON values that merging and the OR-set share.
//!
//! The merge keeps every value:
//! - all siblings are arrays: their union, deduplicated, in canonical order
//!   (a shopping cart's elements survive every concurrent add);
//! - all siblings are strings: the distinct strings sorted and joined with
//!   `/` (the seed's "order them alphabetically and then concatenate", as in
//!   DDIA's `"B/C"`);
//! - otherwise (numbers, objects, mixed kinds): a JSON array of the distinct
//!   values in canonical order.
//!
//! One sibling is returned unchanged.

use std::cmp::Ordering;

use serde_json::Value;

/// Canonical order of JSON values: integers first, by value; then every
/// other value by its canonical JSON text (serde_json's compact form, object
/// keys sorted).
pub fn canonical_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => canonical_text(a).cmp(&canonical_text(b)),
    }
}

/// The compact JSON text of `v` (serde_json keeps object keys sorted).
pub fn canonical_text(v: &Value) -> String {
    v.to_string()
}

/// Sort and deduplicate values in canonical order.
pub fn sorted_distinct(mut values: Vec<Value>) -> Vec<Value> {
    values.sort_by(canonical_cmp);
    values.dedup();
    values
}

/// Merge concurrent values into one, keeping every value (see the module
/// docs). The result depends only on the set of values, not their order.
pub fn merge_values(values: &[Value]) -> Option<Value> {
    match values {
        [] => None,
        [one] => Some(one.clone()),
        _ if values.iter().all(Value::is_array) => {
            let elements = values
                .iter()
                .flat_map(|v| v.as_array().into_iter().flatten().cloned())
                .collect();
            Some(Value::Array(sorted_distinct(elements)))
        }
        _ if values.iter().all(Value::is_string) => {
            let mut strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            strings.sort_unstable();
            strings.dedup();
            Some(Value::String(strings.join("/")))
        }
        _ => Some(Value::Array(sorted_distinct(values.to_vec()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_union_strings_concatenate_others_collect() {
        assert_eq!(
            merge_values(&[json!([3, 1]), json!([2, 3])]),
            Some(json!([1, 2, 3]))
        );
        assert_eq!(
            merge_values(&[json!("C"), json!("B"), json!("C")]),
            Some(json!("B/C"))
        );
        assert_eq!(
            merge_values(&[json!(7), json!({"a": 1}), json!(-2)]),
            Some(json!([-2, 7, {"a": 1}]))
        );
        assert_eq!(merge_values(&[json!(5)]), Some(json!(5)));
        assert_eq!(merge_values(&[]), None);
    }
}
