//! The run's JSON document: `RunReport` → bytes.

use crate::report::RunReport;

/// Pretty-printed JSON with a trailing newline. NaN (a failed task's sum) becomes `null`.
pub fn to_bytes(report: &RunReport) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(report).expect("RunReport serialises");
    v.push(b'\n');
    v
}
