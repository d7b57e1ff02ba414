//! The task kinds. Each lives in its own file and implements [`Kind`] with its own parameter
//! and result types; adding a kind means adding a file and listing it in [`ALL`].
//!
//! [`Kind`] is typed, so it is not object-safe: [`ALL`] holds each kind wrapped in
//! [`Typed`], which implements the object-safe [`DynKind`] that the service and the runner
//! use. `Typed` is where JSON meets a kind's types, once at each boundary: the request's
//! parameters in `validate`, the stored parameters at the start of `run`, a stored result when
//! it is rendered.

mod bulk_message;
mod generate_numbers;
mod typed;
mod validate_numbers;

pub use typed::{DynKind, Finished, Typed};

use super::job::Job;
use crate::error::{AppError, AppResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// What a finished (or stopped) run produced.
pub struct Output<R> {
    /// The full result (partial when the task was cancelled or interrupted).
    pub result: R,
    /// A short summary shown in the task object (an object: its fields make the notification).
    pub summary: Value,
}

/// A kind of background task, with its own parameter and result types.
pub trait Kind: Send + Sync + 'static {
    /// The `kind` name on the wire.
    const NAME: &'static str;
    /// The accepted parameters. Their JSON form is what the task object shows and what is
    /// stored, so it must read back into the same value (tasks queued before a restart run
    /// from it).
    type Params: Serialize + DeserializeOwned;
    /// The full result. Its JSON form is what `GET /api/tasks/{id}/result` answers.
    type Result: Serialize + DeserializeOwned;

    /// Checks the request's parameters (a JSON object) and turns them into [`Kind::Params`];
    /// returns them with the number of items to process. Refusals are `validation_failed`
    /// naming the field.
    fn validate(&self, raw: &Value) -> AppResult<(Self::Params, i64)>;

    /// Does the work on a blocking thread. Must check [`Job::cancelled`] often (at least every
    /// few milliseconds of work) and return what it has when cancelled. `Err` fails the task.
    fn run(&self, params: Self::Params, job: &mut Job) -> Result<Output<Self::Result>, String>;

    /// How many items a result accounts for (all of them when complete, fewer when the task
    /// was stopped): the `processed` count of a cancelled or interrupted task.
    fn partial_count(&self, result: &Self::Result) -> i64;

    /// The result as CSV, for tabular kinds (see [`csv_table`]); `None` for the others.
    fn csv(&self, _result: &Self::Result) -> AppResult<Option<String>> {
        Ok(None)
    }

    /// The result cut down to the rows of one number type (`?type=` on the result route),
    /// for kinds whose rows have a `type`; others answer `validation_failed`.
    fn select_type(&self, _result: Self::Result, _number_type: &str) -> AppResult<Self::Result> {
        Err(AppError::field(
            "type",
            "only validate_numbers results can be filtered by type",
        ))
    }
}

/// Every kind the server runs.
pub static ALL: &[&dyn DynKind] = &[
    &Typed(generate_numbers::GenerateNumbers),
    &Typed(validate_numbers::ValidateNumbers),
    &Typed(bulk_message::BulkMessage),
];

/// The kind with this name.
pub fn find(name: &str) -> Option<&'static dyn DynKind> {
    ALL.iter().copied().find(|k| k.name() == name)
}

/// The names of all kinds, for error messages.
pub fn names() -> String {
    ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

/// A table as CSV: the header row, then one row per record; fields quoted only when they hold
/// a comma, a quote or a line break (RFC 4180 quoting), each row ended by `\n`. All rows must
/// have as many fields as the header.
pub fn csv_table<R, F>(header: &[&str], rows: R) -> AppResult<String>
where
    R: IntoIterator<Item = F>,
    F: IntoIterator,
    F::Item: AsRef<[u8]>,
{
    let failed = |e: &dyn std::fmt::Display| AppError::Internal(format!("writing CSV: {e}"));
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(header).map_err(|e| failed(&e))?;
    for row in rows {
        w.write_record(row).map_err(|e| failed(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| failed(&e))?;
    String::from_utf8(bytes).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::TaskResult;
    use serde_json::json;

    #[test]
    fn names_are_unique() {
        let mut n: Vec<_> = ALL.iter().map(|k| k.name()).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), ALL.len());
        assert!(find("generate_numbers").is_some());
        assert!(find("nope").is_none());
        assert_eq!(names(), "generate_numbers, validate_numbers, bulk_message");
    }

    /// The quoting the result route used before the `csv` crate (kept here to pin its bytes).
    fn old_field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }

    #[test]
    fn csv_quotes_only_where_needed_with_newline_row_ends() {
        let fields = [
            "a",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\ronly",
            "crlf\r\n",
            "  212 200 0000 ",
            "'quote'",
            "#hash",
            "",
            "(415) 555-2671",
            "é ✓",
        ];
        let rows: Vec<[&str; 2]> = fields.iter().map(|f| [*f, "x"]).collect();
        let got = csv_table(&["field", "other"], &rows).unwrap();
        let mut want = String::from("field,other\n");
        for f in fields {
            want.push_str(&format!("{},x\n", old_field(f)));
        }
        assert_eq!(got, want);
        assert_eq!(
            csv_table(&["a", "b"], [["x,y", "say \"hi\""]]).unwrap(),
            "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n"
        );
        assert_eq!(
            csv_table(&["number"], Vec::<[&str; 1]>::new()).unwrap(),
            "number\n"
        );
    }

    #[test]
    fn the_erased_layer_stores_normalized_params_and_renders_stored_results() {
        let kind = find("generate_numbers").unwrap();
        let (params, total) = kind
            .validate(&json!({"area_code": 415, "quantity": 2}))
            .unwrap();
        assert_eq!(params, json!({"area_code": "415", "quantity": 2}));
        assert_eq!(total, 2);
        let stored = json!({"area_code": "415", "numbers": ["+14155550100"]});
        match kind.render(stored.clone(), None, true).unwrap() {
            TaskResult::Csv(text) => assert_eq!(text, "number\n+14155550100\n"),
            TaskResult::Json(v) => panic!("{v}"),
        }
        let refused = |r: AppResult<TaskResult>, field: &str| match r {
            Err(AppError::Validation { fields, .. }) => assert!(fields.contains_key(field)),
            _ => panic!("expected a refusal on {field}"),
        };
        refused(kind.render(stored, Some("mobile"), false), "type");
        let bulk = find("bulk_message").unwrap();
        let stored = json!({"sent": 1, "failed": []});
        refused(bulk.render(stored.clone(), None, true), "format");
        let typed = find("validate_numbers").unwrap();
        let rows = json!({"results": [
            {"input": "a", "valid": false, "e164": null, "type": null, "region": null, "reason": "r"},
            {"input": "b", "valid": true, "e164": "+18002345678", "type": "toll_free",
             "region": "US", "reason": null},
        ]});
        match typed.render(rows, Some("toll_free"), false).unwrap() {
            TaskResult::Json(v) => assert_eq!(v["results"].as_array().unwrap().len(), 1),
            TaskResult::Csv(t) => panic!("{t}"),
        }
        // A result that is not the kind's shape is an internal error, not a wrong answer.
        assert!(matches!(
            bulk.render(json!({"numbers": []}), None, true),
            Err(AppError::Internal(_))
        ));
    }

    #[test]
    fn a_row_of_the_wrong_width_is_an_error() {
        assert!(csv_table(&["a", "b"], [["only one"]]).is_err());
    }
}
