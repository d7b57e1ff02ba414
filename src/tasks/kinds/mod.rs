//! The task kinds. Each lives in its own file and implements [`Kind`]; adding a kind means
//! adding a file and listing it in [`ALL`].

mod bulk_message;
mod generate_numbers;
mod validate_numbers;

use super::job::Job;
use crate::error::AppResult;
use serde_json::Value;

/// What a finished (or stopped) run produced.
pub struct Output {
    /// The full result (partial when the task was cancelled).
    pub result: Value,
    /// A short summary shown in the task object.
    pub summary: Value,
}

/// A kind of background task.
pub trait Kind: Send + Sync + 'static {
    /// The `kind` name on the wire.
    fn name(&self) -> &'static str;
    /// Checks and normalizes the parameters; returns them with the number of items to process.
    fn validate(&self, params: &Value) -> AppResult<(Value, i64)>;
    /// Does the work on a blocking thread. Must check [`Job::cancelled`] often (at least every
    /// few milliseconds of work) and return what it has when cancelled. `Err` fails the task.
    fn run(&self, job: &mut Job) -> Result<Output, String>;
    /// The result as CSV, for tabular kinds.
    fn csv(&self, _result: &Value) -> Option<String> {
        None
    }
    /// The result cut down to the rows of one number type (`?type=` on the result route),
    /// for kinds whose rows have a `type`; others answer `validation_failed`.
    fn select_type(&self, _result: &Value, _number_type: &str) -> AppResult<Value> {
        Err(crate::error::AppError::field(
            "type",
            "only validate_numbers results can be filtered by type",
        ))
    }
}

/// Every kind the server runs.
pub static ALL: &[&dyn Kind] = &[
    &generate_numbers::GenerateNumbers,
    &validate_numbers::ValidateNumbers,
    &bulk_message::BulkMessage,
];

/// The kind with this name.
pub fn find(name: &str) -> Option<&'static dyn Kind> {
    ALL.iter().copied().find(|k| k.name() == name)
}

/// The names of all kinds, for error messages.
pub fn names() -> String {
    ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

/// Quotes a CSV field when needed (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut n: Vec<_> = ALL.iter().map(|k| k.name()).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), ALL.len());
        assert!(find("generate_numbers").is_some());
        assert!(find("nope").is_none());
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
