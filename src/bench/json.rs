//! The run's JSON document: `schema::Run` → bytes.

use super::schema::Run;

/// Pretty-printed JSON with a trailing newline. NaN (a failed task's sum) becomes `null`.
pub fn to_bytes(run: &Run) -> Vec<u8> {
    // Plain structs of numbers, strings and vectors: serde_json can't fail on them.
    let mut v = serde_json::to_vec_pretty(run).expect("schema::Run serialises");
    v.push(b'\n');
    v
}
