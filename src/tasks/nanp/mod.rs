//! North American Numbering Plan (NANP) numbers: validation and random generation, judged by
//! Google's libphonenumber metadata (the `rlibphonenumber` crate).
//!
//! # Validity ([`validate_number`])
//!
//! A number is valid when libphonenumber parses it (default region US, so `415 555 2671`,
//! `(415) 555-2671`, `1-415-555-2671`, `+1 415 555 2671` all work) with country code 1 and
//! finds it valid for one of the NANP regions (US, CA, and the Caribbean and Pacific
//! members). The result then carries the library's number type and the region. Whitespace
//! of any kind (tabs from a spreadsheet) is read as a space before the library parses.
//!
//! Three policies refuse inputs the library would accept, each with its reason: letters
//! (`1-800-FLOWERS`; the library turns them into digits), extensions (`x123`, `ext. 123`,
//! `#123`), and the fictional range `555-0100` to `555-0199`.
//!
//! For an input the library rejects, the hand-written notation rules in `notation` give a
//! precise reason when they can (digit count, misplaced `+`, wrong country code, ...);
//! otherwise the reason names the area code not in service or the exchange not in use.

mod generate;
mod library;
mod notation;
#[cfg(test)]
mod tests;

pub use generate::generate_numbers;
pub use library::{warm_up, AreaCodeStatus, NumberType};

use rlibphonenumber::{enums::Region, PhoneNumberFormat, PHONE_NUMBER_UTIL};

/// Largest quantity [`generate_numbers`] produces in one call; larger requests are clamped.
pub const MAX_QUANTITY: usize = 100_000;

/// Result of validating one input string with [`validate_number`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The input exactly as given (not trimmed or normalised).
    pub input: String,
    /// Whether the input is a valid NANP number.
    pub valid: bool,
    /// The number in E.164 form (`+1NPANXXXXXX`) when valid, otherwise `None`.
    pub e164: Option<String>,
    /// The library's type of the number when valid, otherwise `None`.
    pub number_type: Option<NumberType>,
    /// The ISO 3166 region (`"US"`, `"CA"`, `"JM"`, ...) when valid, otherwise `None`.
    pub region: Option<String>,
    /// A short English reason why the input is invalid, otherwise `None`.
    pub reason: Option<String>,
}

impl Validation {
    fn invalid(input: &str, reason: impl Into<String>) -> Validation {
        Validation {
            input: input.to_string(),
            valid: false,
            e164: None,
            number_type: None,
            region: None,
            reason: Some(reason.into()),
        }
    }
}

/// Validate an area code given as text for generating numbers, returning its value.
///
/// The code must be exactly three ASCII digits (no surrounding whitespace) and a geographic
/// area code in service by the library's data: some exchange holds landline or mobile
/// numbers. `373` (not in service), `555`, toll-free `800` and premium-rate `900` are refused.
///
/// # Errors
///
/// A short English reason: `"area code must be three digits"`, one of the structural rules
/// (`"area code cannot start with 0 or 1"`, `"area code cannot be an N11 code"`, `"area code
/// with 9 as middle digit is reserved"`), `"area code 373 is not in service"`, or e.g.
/// `"area code 900 is for premium rate numbers, not a geographic area code"`.
pub fn validate_area_code(code: &str) -> Result<u16, String> {
    let bytes = code.as_bytes();
    if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err("area code must be three digits".to_string());
    }
    let npa = bytes
        .iter()
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    if let Some(reason) = notation::area_code_structure(npa) {
        return Err(reason.to_string());
    }
    match library::area_code_status(npa) {
        AreaCodeStatus::Geographic => Ok(npa),
        AreaCodeStatus::NotInService => Err(format!("area code {npa} is not in service")),
        AreaCodeStatus::NonGeographic(t) => Err(format!(
            "area code {npa} is for {} numbers, not a geographic area code",
            t.as_str()
                .replace('_', " ")
                .replace("toll free", "toll-free")
        )),
    }
}

/// Validate a phone number written in any common notation (see the module docs).
///
/// Never fails: the outcome (the reason when invalid; E.164 form, type and region when
/// valid) is reported in the returned [`Validation`].
#[must_use]
pub fn validate_number(input: &str) -> Validation {
    if let Some(reason) = notation::refusal(input) {
        return Validation::invalid(input, reason);
    }
    // The library takes spaces but not tabs or other whitespace as separators.
    let spaced: String;
    let text = if input.chars().any(|c| c.is_whitespace() && c != ' ') {
        spaced = input.replace(|c: char| c.is_whitespace(), " ");
        &spaced
    } else {
        input
    };
    let number = match PHONE_NUMBER_UTIL.parse(text, Some(Region::US)) {
        Ok(n) => n,
        Err(_) => {
            let reason = notation::national_digits(input)
                .err()
                .unwrap_or_else(|| "not a phone number".to_string());
            return Validation::invalid(input, reason);
        }
    };
    if number.country_code != 1 {
        return Validation::invalid(input, "not a NANP country code");
    }
    let national = rlibphonenumber::get_national_significant_number_owned(&number);
    let Some(number_type) = library::number_type(&number) else {
        return Validation::invalid(input, why_invalid(input, &national));
    };
    if is_fictional(&national) {
        return Validation::invalid(input, "555-01XX numbers are fictional");
    }
    Validation {
        input: input.to_string(),
        valid: true,
        e164: Some(
            PHONE_NUMBER_UTIL
                .format(&number, PhoneNumberFormat::E164)
                .into_owned(),
        ),
        number_type: Some(number_type),
        region: library::region(&number),
        reason: None,
    }
}

/// Whether a national number is `NPA-555-0100` to `NPA-555-0199`.
fn is_fictional(national: &str) -> bool {
    let b = national.as_bytes();
    b.len() == 10 && &b[3..7] == b"5550" && b[7] == b'1'
}

/// A reason for a country-code-1 number the library finds invalid; `national` is its
/// national significant number as the library read it.
fn why_invalid(input: &str, national: &str) -> String {
    let digits = match notation::national_digits(input) {
        Ok(d) => d,
        Err(reason) => return reason,
    };
    if national.len() != 10 {
        return format!("expected 10 digits, found {}", national.len());
    }
    let value =
        |r: std::ops::Range<usize>| digits[r].iter().fold(0u16, |a, &d| a * 10 + u16::from(d));
    let (npa, nxx) = (value(0..3), value(3..6));
    if let Some(reason) = notation::area_code_structure(npa) {
        return reason.to_string();
    }
    if library::area_code_status(npa) == AreaCodeStatus::NotInService {
        return format!("area code {npa} is not in service");
    }
    if library::exchange_in_use(npa, nxx) {
        format!("not a number in use in area code {npa}")
    } else {
        format!("exchange code {nxx:03} is not in use in area code {npa}")
    }
}
