//! The object-safe face of a kind ([`DynKind`]) and the adapter that gives every typed
//! [`Kind`] that face ([`Typed`]), converting between JSON and the kind's types.

use super::{Kind, Output};
use crate::error::{AppError, AppResult};
use crate::tasks::job::Job;
use crate::tasks::TaskResult;
use serde_json::Value;

/// What a run produced, in JSON, with the count of items its result accounts for.
pub struct Finished {
    /// The full (or, when stopped, partial) result.
    pub result: Value,
    /// The short summary shown in the task object.
    pub summary: Value,
    /// How many items the result accounts for ([`Kind::partial_count`]).
    pub processed: i64,
}

/// A kind as the service and the runner see it: JSON in, JSON out, no kind-specific shapes.
pub trait DynKind: Send + Sync {
    /// The `kind` name on the wire.
    fn name(&self) -> &'static str;

    /// Checks the request's parameters; returns their normalized JSON (what is stored and
    /// shown) and the number of items to process.
    fn validate(&self, raw: &Value) -> AppResult<(Value, i64)>;

    /// Runs the task from its stored parameters (on a blocking thread). `Err` fails the task.
    fn run(&self, params: Value, job: &mut Job) -> Result<Finished, String>;

    /// A stored result cut down to one number type (with `number_type`) and/or rendered as CSV
    /// (with `csv`); a kind that cannot do either answers `validation_failed` on `type` or
    /// `format`.
    fn render(&self, result: Value, number_type: Option<&str>, csv: bool) -> AppResult<TaskResult>;
}

/// A typed [`Kind`] behind the object-safe [`DynKind`].
pub struct Typed<K>(pub K);

impl<K: Kind> DynKind for Typed<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn validate(&self, raw: &Value) -> AppResult<(Value, i64)> {
        let (params, total) = self.0.validate(raw)?;
        let params = serde_json::to_value(params)
            .map_err(|e| AppError::Internal(format!("{} parameters: {e}", K::NAME)))?;
        Ok((params, total))
    }

    fn run(&self, params: Value, job: &mut Job) -> Result<Finished, String> {
        let params: K::Params = serde_json::from_value(params)
            .map_err(|e| format!("stored {} parameters: {e}", K::NAME))?;
        let Output { result, summary } = self.0.run(params, job)?;
        let processed = self.0.partial_count(&result);
        let result = serde_json::to_value(result)
            .map_err(|e| format!("the result could not be stored: {e}"))?;
        Ok(Finished {
            result,
            summary,
            processed,
        })
    }

    fn render(&self, result: Value, number_type: Option<&str>, csv: bool) -> AppResult<TaskResult> {
        let mut result: K::Result = serde_json::from_value(result)
            .map_err(|e| AppError::Internal(format!("a stored {} result: {e}", K::NAME)))?;
        if let Some(t) = number_type {
            result = self.0.select_type(result, t)?;
        }
        if csv {
            return match self.0.csv(&result)? {
                Some(text) => Ok(TaskResult::Csv(text)),
                None => Err(AppError::field(
                    "format",
                    "csv is not available for this kind",
                )),
            };
        }
        let value = serde_json::to_value(result)
            .map_err(|e| AppError::Internal(format!("a {} result: {e}", K::NAME)))?;
        Ok(TaskResult::Json(value))
    }
}
