//! `generate_numbers {area_code, quantity}`: distinct numbers, valid by libphonenumber, landline
//! or mobile, in one geographic area code in service.

use super::{csv_table, Kind, Output};
use crate::error::{AppError, AppResult};
use crate::tasks::job::Job;
use crate::tasks::nanp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// The kind.
pub struct GenerateNumbers;

/// A geographic area code in service; in JSON, its three digits as a string (`"415"`).
/// Reading one back checks it again, so a stored task whose area code has left service fails
/// rather than generating from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(u16);

impl TryFrom<String> for AreaCode {
    type Error = String;

    fn try_from(code: String) -> Result<Self, String> {
        nanp::validate_area_code(&code).map(AreaCode)
    }
}

impl From<AreaCode> for String {
    fn from(code: AreaCode) -> String {
        code.0.to_string()
    }
}

/// The parameters of `generate_numbers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateParams {
    /// Where the numbers are.
    pub area_code: AreaCode,
    /// How many (1 to [`nanp::MAX_QUANTITY`]).
    pub quantity: usize,
}

/// The result of `generate_numbers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateResult {
    /// The area code asked for.
    pub area_code: String,
    /// The numbers in E.164 form, distinct (fewer than asked when stopped).
    pub numbers: Vec<String>,
}

impl Kind for GenerateNumbers {
    const NAME: &'static str = "generate_numbers";
    type Params = GenerateParams;
    type Result = GenerateResult;

    fn validate(&self, raw: &Value) -> AppResult<(GenerateParams, i64)> {
        let area = match raw.get("area_code") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(AppError::field("area_code", "is required, e.g. \"415\"")),
        };
        let area_code =
            AreaCode::try_from(area).map_err(|why| AppError::field("area_code", why))?;
        let quantity = raw
            .get("quantity")
            .and_then(Value::as_i64)
            .ok_or_else(|| AppError::field("quantity", "is required and must be an integer"))?;
        let Some(quantity) = usize::try_from(quantity)
            .ok()
            .filter(|q| (1..=nanp::MAX_QUANTITY).contains(q))
        else {
            return Err(AppError::field(
                "quantity",
                format!("must be 1 to {}", nanp::MAX_QUANTITY),
            ));
        };
        let total = quantity as i64;
        Ok((
            GenerateParams {
                area_code,
                quantity,
            },
            total,
        ))
    }

    fn run(&self, params: GenerateParams, job: &mut Job) -> Result<Output<GenerateResult>, String> {
        let total = params.quantity as i64;
        let cancel = job.cancel_flag();
        let mut report = job.reporter();
        let numbers = nanp::generate_numbers(
            &mut rand::rng(),
            params.area_code.0,
            params.quantity,
            &mut || cancel.load(Ordering::Relaxed),
            &mut |done| report(done as i64, total),
        );
        let area_code = String::from(params.area_code);
        Ok(Output {
            summary: json!({ "area_code": area_code, "count": numbers.len() }),
            result: GenerateResult { area_code, numbers },
        })
    }

    fn partial_count(&self, result: &GenerateResult) -> i64 {
        result.numbers.len() as i64
    }

    fn csv(&self, result: &GenerateResult) -> AppResult<Option<String>> {
        let rows = result.numbers.iter().map(|n| [n]);
        csv_table(&["number"], rows).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(raw: Value) -> (String, String) {
        match GenerateNumbers.validate(&raw) {
            Err(AppError::Validation { fields, .. }) => {
                let (k, v) = fields.into_iter().next().expect("a field");
                (k, v)
            }
            other => panic!("{raw}: {:?}", other.map(|(p, _)| p)),
        }
    }

    #[test]
    fn params_parse_and_store_as_before() {
        let (p, total) = GenerateNumbers
            .validate(&json!({"area_code": "415", "quantity": 5000}))
            .unwrap();
        assert_eq!(total, 5000);
        assert_eq!(p.quantity, 5000);
        let stored = serde_json::to_value(&p).unwrap();
        assert_eq!(stored, json!({"area_code": "415", "quantity": 5000}));
        // A number is taken as its digits; the stored form is the string.
        let (p, _) = GenerateNumbers
            .validate(&json!({"area_code": 212, "quantity": 1, "extra": true}))
            .unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"area_code": "212", "quantity": 1})
        );
        // What a task queued before a restart has stored reads back.
        let back: GenerateParams =
            serde_json::from_str(r#"{"area_code":"415","quantity":3000}"#).unwrap();
        assert_eq!(back.area_code, AreaCode(415));
        assert!(
            serde_json::from_str::<GenerateParams>(r#"{"area_code":"911","quantity":3}"#).is_err()
        );
    }

    #[test]
    fn bad_params_name_their_field() {
        let cases = [
            (json!({"quantity": 5}), "area_code"),
            (json!({"area_code": "41", "quantity": 5}), "area_code"),
            (json!({"area_code": "800", "quantity": 5}), "area_code"),
            (json!({"area_code": null, "quantity": 5}), "area_code"),
            (json!({"area_code": "415"}), "quantity"),
            (json!({"area_code": "415", "quantity": "ten"}), "quantity"),
            (json!({"area_code": "415", "quantity": 0}), "quantity"),
            (json!({"area_code": "415", "quantity": -1}), "quantity"),
            (json!({"area_code": "415", "quantity": 100_001}), "quantity"),
        ];
        for (raw, field) in cases {
            assert_eq!(field_error(raw.clone()).0, field, "{raw}");
        }
        assert_eq!(
            field_error(json!({"area_code": "373", "quantity": 5})).1,
            "area code 373 is not in service"
        );
        assert_eq!(
            field_error(json!({"area_code": "415", "quantity": 0})).1,
            "must be 1 to 100000"
        );
    }

    #[test]
    fn partial_count_and_csv() {
        let r = GenerateResult {
            area_code: "415".into(),
            numbers: vec!["+14155550100".into(), "+14155550101".into()],
        };
        assert_eq!(GenerateNumbers.partial_count(&r), 2);
        assert_eq!(
            GenerateNumbers.csv(&r).unwrap().unwrap(),
            "number\n+14155550100\n+14155550101\n"
        );
    }
}
