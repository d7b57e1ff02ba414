//! `validate_numbers {numbers}`: checks each input by NANP rules.

use super::{csv_field, Kind, Output};
use crate::error::{AppError, AppResult};
use crate::tasks::nanp;
use crate::tasks::runner::Job;
use serde_json::{json, Value};

/// The kind.
pub struct ValidateNumbers;

/// Most inputs one task takes.
const MAX_INPUTS: usize = 100_000;

impl Kind for ValidateNumbers {
    fn name(&self) -> &'static str {
        "validate_numbers"
    }

    fn validate(&self, params: &Value) -> AppResult<(Value, i64)> {
        let Some(list) = params.get("numbers").and_then(Value::as_array) else {
            return Err(AppError::field("numbers", "is required: a list of strings"));
        };
        if list.is_empty() || list.len() > MAX_INPUTS {
            return Err(AppError::field(
                "numbers",
                format!("must hold 1 to {MAX_INPUTS} strings"),
            ));
        }
        if let Some(i) = list.iter().position(|v| !v.is_string()) {
            return Err(AppError::field(
                "numbers",
                format!("item {i} is not a string"),
            ));
        }
        if let Some(i) = list
            .iter()
            .position(|v| v.as_str().is_some_and(|s| s.len() > 100))
        {
            return Err(AppError::field(
                "numbers",
                format!("item {i} is over 100 characters"),
            ));
        }
        Ok((json!({ "numbers": list }), list.len() as i64))
    }

    fn run(&self, job: &mut Job) -> Result<Output, String> {
        let inputs: Vec<String> = job.params["numbers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let total = inputs.len() as i64;
        let mut results = Vec::with_capacity(inputs.len());
        let mut valid = 0;
        for (i, input) in inputs.iter().enumerate() {
            if i % 500 == 0 {
                if job.cancelled() {
                    break;
                }
                job.progress(i as i64, total);
            }
            let v = nanp::validate_number(input);
            valid += usize::from(v.valid);
            results.push(json!({
                "input": v.input, "valid": v.valid, "e164": v.e164, "reason": v.reason,
            }));
        }
        job.progress(results.len() as i64, total);
        Ok(Output {
            summary: json!({ "valid": valid, "invalid": results.len() - valid }),
            result: json!({ "results": results }),
        })
    }

    fn csv(&self, result: &Value) -> Option<String> {
        let mut out = String::from("input,valid,e164,reason\n");
        for r in result.get("results")?.as_array()? {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!(
                "{},{},{},{}\n",
                csv_field(s("input")),
                r.get("valid").and_then(Value::as_bool).unwrap_or(false),
                csv_field(s("e164")),
                csv_field(s("reason"))
            ));
        }
        Some(out)
    }
}
