//! `generate_numbers {area_code, quantity}`: distinct numbers, valid by libphonenumber, landline
//! or mobile, in one geographic area code in service.

use super::{Kind, Output};
use crate::error::{AppError, AppResult};
use crate::tasks::job::Job;
use crate::tasks::nanp;
use serde_json::{json, Value};

/// The kind.
pub struct GenerateNumbers;

impl Kind for GenerateNumbers {
    fn name(&self) -> &'static str {
        "generate_numbers"
    }

    fn validate(&self, params: &Value) -> AppResult<(Value, i64)> {
        let area = match params.get("area_code") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(AppError::field("area_code", "is required, e.g. \"415\"")),
        };
        nanp::validate_area_code(&area).map_err(|why| AppError::field("area_code", why))?;
        let quantity = params
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| AppError::field("quantity", "is required and must be an integer"))?;
        if !(1..=nanp::MAX_QUANTITY as i64).contains(&quantity) {
            return Err(AppError::field(
                "quantity",
                format!("must be 1 to {}", nanp::MAX_QUANTITY),
            ));
        }
        Ok((json!({ "area_code": area, "quantity": quantity }), quantity))
    }

    fn run(&self, job: &mut Job) -> Result<Output, String> {
        let area = job.params["area_code"].as_str().unwrap_or("");
        let code = nanp::validate_area_code(area)?;
        let quantity = job.params["quantity"].as_u64().unwrap_or(0) as usize;
        let total = quantity as i64;
        let cancel = job.cancel_flag();
        let mut report = job.reporter();
        let numbers = nanp::generate_numbers(
            &mut rand::rng(),
            code,
            quantity,
            &mut || cancel.load(std::sync::atomic::Ordering::Relaxed),
            &mut |done| report(done as i64, total),
        );
        Ok(Output {
            summary: json!({ "area_code": area, "count": numbers.len() }),
            result: json!({ "area_code": area, "numbers": numbers }),
        })
    }

    fn csv(&self, result: &Value) -> Option<String> {
        let mut out = String::from("number\n");
        for n in result.get("numbers")?.as_array()? {
            out.push_str(n.as_str()?);
            out.push('\n');
        }
        Some(out)
    }
}
