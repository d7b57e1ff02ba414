//! `validate_numbers {numbers}`: checks each input against libphonenumber's data for the NANP
//! regions; each row says the number's type and region.

use super::{csv_field, Kind, Output};
use crate::error::{AppError, AppResult};
use crate::tasks::job::Job;
use crate::tasks::nanp;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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
        // Area code statuses make the reasons of invalid rows; survey them all once.
        nanp::warm_up();
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
        let mut by_type: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (i, input) in inputs.iter().enumerate() {
            if i % 500 == 0 {
                if job.cancelled() {
                    break;
                }
                job.progress(i as i64, total);
            }
            let v = nanp::validate_number(input);
            valid += usize::from(v.valid);
            let number_type = v.number_type.map(nanp::NumberType::as_str);
            if let Some(t) = number_type {
                *by_type.entry(t).or_default() += 1;
            }
            results.push(json!({
                "input": v.input, "valid": v.valid, "e164": v.e164, "type": number_type,
                "region": v.region, "reason": v.reason,
            }));
        }
        job.progress(results.len() as i64, total);
        Ok(Output {
            summary: json!({
                "valid": valid, "invalid": results.len() - valid, "by_type": by_type,
            }),
            result: json!({ "results": results }),
        })
    }

    fn csv(&self, result: &Value) -> Option<String> {
        // New columns go last, so readers of the first four keep working.
        let mut out = String::from("input,valid,e164,reason,type,region\n");
        for r in result.get("results")?.as_array()? {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                csv_field(s("input")),
                r.get("valid").and_then(Value::as_bool).unwrap_or(false),
                csv_field(s("e164")),
                csv_field(s("reason")),
                s("type"),
                s("region"),
            ));
        }
        Some(out)
    }

    fn select_type(&self, result: &Value, number_type: &str) -> AppResult<Value> {
        if nanp::NumberType::from_name(number_type).is_none() {
            let names: Vec<&str> = nanp::NumberType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(AppError::field(
                "type",
                format!("one of: {}", names.join(", ")),
            ));
        }
        let rows = result.get("results").and_then(Value::as_array);
        let kept: Vec<&Value> = rows
            .into_iter()
            .flatten()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some(number_type))
            .collect();
        Ok(json!({ "results": kept }))
    }
}
