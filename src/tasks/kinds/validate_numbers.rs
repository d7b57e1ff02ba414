//! `validate_numbers {numbers}`: checks each input against libphonenumber's data for the NANP
//! regions; each row says the number's type and region.

use super::{csv_table, Kind, Output};
use crate::error::{AppError, AppResult};
use crate::tasks::job::Job;
use crate::tasks::nanp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The kind.
pub struct ValidateNumbers;

/// Most inputs one task takes.
const MAX_INPUTS: usize = 100_000;

/// The parameters of `validate_numbers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateParams {
    /// The inputs, in any common notation (1 to 100000, each at most 100 bytes).
    pub numbers: Vec<String>,
}

/// The result of `validate_numbers`: one row per input, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateResult {
    /// The rows (fewer than the inputs when stopped).
    pub results: Vec<Row>,
}

/// One input checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The input as given.
    pub input: String,
    /// Whether it is a valid NANP number.
    pub valid: bool,
    /// Its E.164 form when valid.
    pub e164: Option<String>,
    /// Its type (`mobile`, `toll_free`, ...) when valid.
    #[serde(rename = "type", default)]
    pub number_type: Option<String>,
    /// Its ISO 3166 region when valid.
    #[serde(default)]
    pub region: Option<String>,
    /// Why it is invalid.
    pub reason: Option<String>,
}

impl From<nanp::Validation> for Row {
    fn from(v: nanp::Validation) -> Row {
        Row {
            input: v.input,
            valid: v.valid,
            e164: v.e164,
            number_type: v.number_type.map(|t| t.as_str().to_string()),
            region: v.region,
            reason: v.reason,
        }
    }
}

impl Kind for ValidateNumbers {
    const NAME: &'static str = "validate_numbers";
    type Params = ValidateParams;
    type Result = ValidateResult;

    fn validate(&self, raw: &Value) -> AppResult<(ValidateParams, i64)> {
        let Some(list) = raw.get("numbers").and_then(Value::as_array) else {
            return Err(AppError::field("numbers", "is required: a list of strings"));
        };
        if list.is_empty() || list.len() > MAX_INPUTS {
            return Err(AppError::field(
                "numbers",
                format!("must hold 1 to {MAX_INPUTS} strings"),
            ));
        }
        let mut numbers = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            let Some(s) = v.as_str() else {
                return Err(AppError::field(
                    "numbers",
                    format!("item {i} is not a string"),
                ));
            };
            numbers.push(s.to_string());
        }
        if let Some(i) = numbers.iter().position(|s| s.len() > 100) {
            return Err(AppError::field(
                "numbers",
                format!("item {i} is over 100 characters"),
            ));
        }
        // Area code statuses make the reasons of invalid rows; survey them all once.
        nanp::warm_up();
        let total = numbers.len() as i64;
        Ok((ValidateParams { numbers }, total))
    }

    fn run(&self, params: ValidateParams, job: &mut Job) -> Result<Output<ValidateResult>, String> {
        let inputs = params.numbers;
        let total = inputs.len() as i64;
        let mut results: Vec<Row> = Vec::with_capacity(inputs.len());
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
            if let Some(t) = v.number_type {
                *by_type.entry(t.as_str()).or_default() += 1;
            }
            results.push(v.into());
        }
        job.progress(results.len() as i64, total);
        Ok(Output {
            summary: json!({
                "valid": valid, "invalid": results.len() - valid, "by_type": by_type,
            }),
            result: ValidateResult { results },
        })
    }

    fn partial_count(&self, result: &ValidateResult) -> i64 {
        result.results.len() as i64
    }

    fn csv(&self, result: &ValidateResult) -> AppResult<Option<String>> {
        let text = |s: &Option<String>| s.clone().unwrap_or_default();
        let rows = result.results.iter().map(|r| {
            [
                r.input.clone(),
                r.valid.to_string(),
                text(&r.e164),
                text(&r.reason),
                text(&r.number_type),
                text(&r.region),
            ]
        });
        // New columns go last, so readers of the first four keep working.
        let header = ["input", "valid", "e164", "reason", "type", "region"];
        csv_table(&header, rows).map(Some)
    }

    fn select_type(&self, result: ValidateResult, number_type: &str) -> AppResult<ValidateResult> {
        if nanp::NumberType::from_name(number_type).is_none() {
            let names: Vec<&str> = nanp::NumberType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(AppError::field(
                "type",
                format!("one of: {}", names.join(", ")),
            ));
        }
        let results = result
            .results
            .into_iter()
            .filter(|r| r.number_type.as_deref() == Some(number_type))
            .collect();
        Ok(ValidateResult { results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(input: &str) -> Row {
        Row::from(nanp::validate_number(input))
    }

    #[test]
    fn params_parse_and_store_as_before() {
        let (p, total) = ValidateNumbers
            .validate(&json!({"numbers": ["415-555-2671", ""]}))
            .unwrap();
        assert_eq!(total, 2);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"numbers": ["415-555-2671", ""]})
        );
        let back: ValidateParams = serde_json::from_str(r#"{"numbers":["1"]}"#).unwrap();
        assert_eq!(back.numbers, vec!["1"]);
    }

    #[test]
    fn bad_params_say_why() {
        let long = "1".repeat(101);
        let cases = [
            (json!({}), "is required: a list of strings"),
            (
                json!({"numbers": "4155552671"}),
                "is required: a list of strings",
            ),
            (json!({"numbers": []}), "must hold 1 to 100000 strings"),
            (json!({"numbers": ["1", 2]}), "item 1 is not a string"),
            (
                json!({"numbers": ["1", long]}),
                "item 1 is over 100 characters",
            ),
        ];
        for (raw, why) in cases {
            match ValidateNumbers.validate(&raw) {
                Err(AppError::Validation { fields, .. }) => {
                    assert_eq!(
                        fields.get("numbers").map(String::as_str),
                        Some(why),
                        "{raw}"
                    )
                }
                other => panic!("{raw}: {:?}", other.map(|(p, _)| p)),
            }
        }
    }

    #[test]
    fn rows_keep_their_json_shape() {
        let r = serde_json::to_value(row("(800) 234-5678")).unwrap();
        assert_eq!(
            r,
            json!({"input": "(800) 234-5678", "valid": true, "e164": "+18002345678",
                   "type": "toll_free", "region": "US", "reason": null})
        );
        // Rows stored before v1.1 have no type or region.
        let old: Row =
            serde_json::from_str(r#"{"input":"x","valid":false,"e164":null,"reason":"r"}"#)
                .unwrap();
        assert_eq!(old.number_type, None);
    }

    #[test]
    fn partial_count_select_type_and_csv() {
        let result = ValidateResult {
            results: vec![
                row("(415) 555-2671"),
                row("415-555-CALL"),
                row("876-210-1234"),
                row("say \"hi\", 415"),
            ],
        };
        assert_eq!(ValidateNumbers.partial_count(&result), 4);
        let csv = ValidateNumbers.csv(&result).unwrap().unwrap();
        let lines: Vec<&str> = csv.split_inclusive('\n').collect();
        assert_eq!(lines[0], "input,valid,e164,reason,type,region\n");
        assert_eq!(
            lines[1],
            "(415) 555-2671,true,+14155552671,,fixed_line_or_mobile,US\n"
        );
        assert_eq!(lines[2], "415-555-CALL,false,,contains letters,,\n");
        assert!(
            lines[4].starts_with("\"say \"\"hi\"\", 415\",false,,"),
            "{}",
            lines[4]
        );
        let mobile = ValidateNumbers
            .select_type(result.clone(), "mobile")
            .unwrap();
        assert_eq!(
            ValidateNumbers.csv(&mobile).unwrap().unwrap(),
            "input,valid,e164,reason,type,region\n876-210-1234,true,+18762101234,,mobile,JM\n"
        );
        assert!(ValidateNumbers.select_type(result, "landline").is_err());
    }
}
