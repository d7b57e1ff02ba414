//! North American Numbering Plan (NANP) validation and random number generation.
//!
//! A NANP number has ten digits, `NPA NXX XXXX`:
//!
//! * `NPA` — the area code: first digit 2-9, not an N11 code (`211`, `911`, ...), and
//!   not a code whose middle digit is 9 (reserved for expansion).
//! * `NXX` — the exchange (central office) code: first digit 2-9, not an N11 code.
//! * `XXXX` — the subscriber number: any four digits, except that `555-0100` to
//!   `555-0199` are reserved for fiction and rejected.
//!
//! # Accepted notations ([`validate_number`])
//!
//! * Surrounding whitespace is ignored.
//! * Spaces (any whitespace), dots and dashes may separate digits anywhere:
//!   `415 555 2671`, `415.555.2671`, `415-555-2671`, `4155552671`.
//! * One optional pair of parentheses, which must enclose exactly the area code
//!   (whitespace inside is tolerated): `(415) 555-2671`, `1 (415) 555-2671`.
//! * An optional country code 1, either as a leading `1` on an 11-digit number
//!   (`1-415-555-2671`, `14155552671`) or as `+1` (`+14155552671`, `+1 415 555 2671`).
//!   A `+` is only allowed as the very first character and must be followed by 1.
//!
//! Letters (vanity numbers such as `1-800-FLOWERS`), extensions (`x123`, `ext. 123`,
//! `#123`) and any other character are rejected with a short English reason.

use std::collections::HashSet;

use rand::RngExt;

/// Largest quantity [`generate_numbers`] produces in one call; larger requests are clamped.
pub const MAX_QUANTITY: usize = 100_000;

/// [`generate_numbers`] consults its callbacks every this many numbers.
const CALLBACK_INTERVAL: usize = 1000;

/// Result of validating one input string with [`validate_number`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The input exactly as given (not trimmed or normalised).
    pub input: String,
    /// Whether the input is a valid NANP number.
    pub valid: bool,
    /// The number in E.164 form (`+1NPANXXXXXX`) when valid, otherwise `None`.
    pub e164: Option<String>,
    /// A short English reason why the input is invalid, otherwise `None`.
    pub reason: Option<String>,
}

/// Validate a NANP area code (NPA) given as text, returning its numeric value.
///
/// The code must be exactly three ASCII digits (no surrounding whitespace), must not
/// start with 0 or 1, must not be an N11 code (`211`, ..., `911`) and must not have 9 as
/// its middle digit (reserved for expansion). Codes that satisfy these rules but are not
/// in service (e.g. `555`) are accepted.
///
/// # Errors
///
/// Returns a short English reason, one of:
/// `"area code must be three digits"`, `"area code cannot start with 0 or 1"`,
/// `"area code cannot be an N11 code"`, `"area code with 9 as middle digit is reserved"`.
///
/// # Examples
///
/// `validate_area_code("415")` is `Ok(415)`; `validate_area_code("911")` is an error.
pub fn validate_area_code(code: &str) -> Result<u16, String> {
    let bytes = code.as_bytes();
    if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err("area code must be three digits".to_string());
    }
    let npa = bytes
        .iter()
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match area_code_error(npa) {
        Some(reason) => Err(reason.to_string()),
        None => Ok(npa),
    }
}

/// Validate a phone number written in any common notation (see the module docs).
///
/// After stripping separators the number must have 10 digits (`NPA NXX XXXX`), or 11
/// digits where the first is the country code 1. The area code follows
/// [`validate_area_code`]; the exchange code must not start with 0 or 1 and must not be
/// an N11 code; `555-0100` to `555-0199` are rejected as fictional.
///
/// Never fails: the outcome (including the reason when invalid, and the E.164 form when
/// valid) is reported in the returned [`Validation`].
#[must_use]
pub fn validate_number(input: &str) -> Validation {
    match parse_national(input) {
        Ok(national) => Validation {
            input: input.to_string(),
            valid: true,
            e164: Some(format!("+1{national}")),
            reason: None,
        },
        Err(reason) => Validation {
            input: input.to_string(),
            valid: false,
            e164: None,
            reason: Some(reason),
        },
    }
}

/// Generate up to `quantity` distinct valid numbers in E.164 form in the given
/// (already validated) area code.
///
/// * `quantity` is clamped to [`MAX_QUANTITY`].
/// * `should_stop` is called before the first number and then every 1000 numbers; when it
///   returns `true`, generation stops and the numbers generated so far are returned.
/// * `on_progress(done)` is called every 1000 numbers and exactly once at the end with the
///   final count (also when stopped early, and with 0 when nothing was generated).
///
/// Every returned number passes [`validate_number`]. If `area_code` is not a valid area
/// code (see [`validate_area_code`]), no numbers are generated and an empty vector is
/// returned. Pass a seeded RNG for reproducible output.
pub fn generate_numbers<R: rand::Rng + ?Sized>(
    rng: &mut R,
    area_code: u16,
    quantity: usize,
    should_stop: &mut dyn FnMut() -> bool,
    on_progress: &mut dyn FnMut(usize),
) -> Vec<String> {
    let quantity = quantity.min(MAX_QUANTITY);
    if area_code_error(area_code).is_some() {
        on_progress(0);
        return Vec::new();
    }

    // Local (NXX XXXX) parts already used, as the 7-digit integer NXXXXXX.
    let mut seen: HashSet<u32> = HashSet::with_capacity(quantity);
    let mut numbers = Vec::with_capacity(quantity);
    for done in 0..quantity {
        if done % CALLBACK_INTERVAL == 0 {
            if should_stop() {
                break;
            }
            if done > 0 {
                on_progress(done);
            }
        }
        let (nxx, line) = loop {
            let (nxx, line) = random_local(rng);
            if seen.insert(u32::from(nxx) * 10_000 + u32::from(line)) {
                break (nxx, line);
            }
        };
        numbers.push(format!("+1{area_code:03}{nxx:03}{line:04}"));
    }
    on_progress(numbers.len());
    numbers
}

/// Draw a random valid exchange code and subscriber number.
fn random_local<R: rand::Rng + ?Sized>(rng: &mut R) -> (u16, u16) {
    loop {
        let nxx: u16 = rng.random_range(200..=999);
        let line: u16 = rng.random_range(0..=9999);
        if local_error(nxx, line).is_none() {
            return (nxx, line);
        }
    }
}

/// Why a numeric area code is invalid, or `None` when it is valid.
fn area_code_error(npa: u16) -> Option<&'static str> {
    if npa > 999 {
        Some("area code must be three digits")
    } else if npa < 200 {
        Some("area code cannot start with 0 or 1")
    } else if npa % 100 == 11 {
        Some("area code cannot be an N11 code")
    } else if (npa / 10) % 10 == 9 {
        Some("area code with 9 as middle digit is reserved")
    } else {
        None
    }
}

/// Why a numeric exchange code plus subscriber number is invalid, or `None` when valid.
fn local_error(nxx: u16, line: u16) -> Option<&'static str> {
    if nxx < 200 {
        Some("exchange code cannot start with 0 or 1")
    } else if nxx % 100 == 11 {
        Some("exchange code cannot be an N11 code")
    } else if nxx == 555 && (100..=199).contains(&line) {
        Some("555-01XX numbers are fictional")
    } else {
        None
    }
}

/// Whether the input ends in an extension such as `x123`, `ext. 123`, `extension 123`,
/// `#123` or `;ext=123` after at least one digit.
fn has_extension(input: &str) -> bool {
    let lower = input.to_ascii_lowercase();
    ["extension", "ext", "x", "#", ";"].iter().any(|marker| {
        lower.find(marker).is_some_and(|pos| {
            let before = &lower[..pos];
            let after = lower[pos + marker.len()..]
                .trim_start_matches(|c: char| matches!(c, '.' | ':' | '=') || c.is_whitespace());
            before.bytes().any(|b| b.is_ascii_digit())
                && !after.is_empty()
                && after.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// Parse `input` into its 10-digit national number (`NPANXXXXXX`) or a reason.
fn parse_national(input: &str) -> Result<String, String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err("empty input".to_string());
    }
    if has_extension(trimmed) {
        return Err("extensions are not supported".to_string());
    }
    if trimmed.chars().any(char::is_alphabetic) {
        return Err("contains letters".to_string());
    }

    let mut digits: Vec<u8> = Vec::with_capacity(11);
    let mut has_plus = false;
    // Digit index at which an unclosed '(' was opened.
    let mut open: Option<usize> = None;
    // Digit index range [start, end) enclosed by the (single) pair of parentheses.
    let mut group: Option<(usize, usize)> = None;
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c as u8 - b'0'),
            '+' if i == 0 => has_plus = true,
            '+' => return Err("'+' is only allowed at the start".to_string()),
            '(' => {
                if open.is_some() || group.is_some() {
                    return Err("parentheses may only surround the area code".to_string());
                }
                open = Some(digits.len());
            }
            ')' => {
                let start = open.take().ok_or("unbalanced parentheses")?;
                group = Some((start, digits.len()));
            }
            '-' | '.' => {}
            c if c.is_whitespace() => {}
            c => return Err(format!("contains invalid character '{c}'")),
        }
    }
    if open.is_some() {
        return Err("unbalanced parentheses".to_string());
    }
    if digits.is_empty() {
        return Err("contains no digits".to_string());
    }

    let national: &[u8] = if has_plus {
        if digits[0] != 1 {
            return Err("not a NANP country code".to_string());
        }
        if digits.len() != 11 {
            return Err(format!(
                "expected 10 digits after +1, found {}",
                digits.len() - 1
            ));
        }
        &digits[1..]
    } else {
        match digits.len() {
            10 => &digits,
            11 if digits[0] == 1 => &digits[1..],
            11 => return Err("11-digit numbers must start with country code 1".to_string()),
            n => return Err(format!("expected 10 digits, found {n}")),
        }
    };

    let prefix_len = digits.len() - national.len();
    if let Some((start, end)) = group {
        if start != prefix_len || end != prefix_len + 3 {
            return Err("parentheses may only surround the area code".to_string());
        }
    }

    let value = |range: std::ops::Range<usize>| {
        national[range]
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d))
    };
    let (npa, nxx, line) = (value(0..3), value(3..6), value(6..10));
    if let Some(reason) = area_code_error(npa).or_else(|| local_error(nxx, line)) {
        return Err(reason.to_string());
    }
    Ok(national.iter().map(|d| char::from(b'0' + d)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// (input, Ok(e164) or Err(reason))
    const NUMBER_CASES: &[(&str, Result<&str, &str>)] = &[
        // Valid, in every notation.
        ("(415) 555-2671", Ok("+14155552671")),
        ("(415)555-2671", Ok("+14155552671")),
        ("( 415 ) 555-2671", Ok("+14155552671")),
        ("415.555.2671", Ok("+14155552671")),
        ("415-555-2671", Ok("+14155552671")),
        ("415 555 2671", Ok("+14155552671")),
        ("415\t555\t2671", Ok("+14155552671")),
        ("4155552671", Ok("+14155552671")),
        ("  415-555-2671  ", Ok("+14155552671")),
        ("+14155552671", Ok("+14155552671")),
        ("+1 415 555 2671", Ok("+14155552671")),
        ("+1 (415) 555-2671", Ok("+14155552671")),
        ("+1-415-555-2671", Ok("+14155552671")),
        ("+1.415.555.2671", Ok("+14155552671")),
        ("1-415-555-2671", Ok("+14155552671")),
        ("1 (415) 555-2671", Ok("+14155552671")),
        ("1(415)5552671", Ok("+14155552671")),
        ("1.415.555.2671", Ok("+14155552671")),
        ("14155552671", Ok("+14155552671")),
        ("212-555-1234", Ok("+12125551234")),
        ("289-200-0000", Ok("+12892000000")),
        ("989-999-9999", Ok("+19899999999")),
        ("415-555-0099", Ok("+14155550099")),
        ("415-555-0200", Ok("+14155550200")),
        ("415-556-0150", Ok("+14155560150")),
        ("555-555-5555", Ok("+15555555555")),
        // Empty.
        ("", Err("empty input")),
        ("   ", Err("empty input")),
        ("\t\n", Err("empty input")),
        // Area code rules.
        ("911-555-2671", Err("area code cannot be an N11 code")),
        ("(211) 555-2671", Err("area code cannot be an N11 code")),
        ("+1 811 555 2671", Err("area code cannot be an N11 code")),
        ("015-555-2671", Err("area code cannot start with 0 or 1")),
        ("115-555-2671", Err("area code cannot start with 0 or 1")),
        ("1-015-555-2671", Err("area code cannot start with 0 or 1")),
        (
            "495-555-2671",
            Err("area code with 9 as middle digit is reserved"),
        ),
        // Exchange code rules.
        ("415-911-2671", Err("exchange code cannot be an N11 code")),
        ("415-411-2671", Err("exchange code cannot be an N11 code")),
        (
            "415-055-2671",
            Err("exchange code cannot start with 0 or 1"),
        ),
        (
            "415-155-2671",
            Err("exchange code cannot start with 0 or 1"),
        ),
        // Fictional numbers.
        ("415-555-0100", Err("555-01XX numbers are fictional")),
        ("(415) 555-0150", Err("555-01XX numbers are fictional")),
        ("+1 415 555 0199", Err("555-01XX numbers are fictional")),
        ("1-800-555-0199", Err("555-01XX numbers are fictional")),
        // Digit counts.
        ("415-555-267", Err("expected 10 digits, found 9")),
        (
            "415-555-26711",
            Err("11-digit numbers must start with country code 1"),
        ),
        ("1-415-555-26711", Err("expected 10 digits, found 12")),
        ("141555526711", Err("expected 10 digits, found 12")),
        ("555-2671", Err("expected 10 digits, found 7")),
        ("---", Err("contains no digits")),
        ("+1", Err("expected 10 digits after +1, found 0")),
        (
            "+1 415 555 267",
            Err("expected 10 digits after +1, found 9"),
        ),
        (
            "+1 415 555 26711",
            Err("expected 10 digits after +1, found 11"),
        ),
        // Country codes.
        ("+44 20 7946 0958", Err("not a NANP country code")),
        ("+4155552671", Err("not a NANP country code")),
        ("+33 1 23 45 67 89", Err("not a NANP country code")),
        // Letters and extensions.
        ("415-555-CAKE", Err("contains letters")),
        ("1-800-FLOWERS", Err("contains letters")),
        ("phone", Err("contains letters")),
        ("415-555-2671 x123", Err("extensions are not supported")),
        ("415-555-2671x123", Err("extensions are not supported")),
        ("415-555-2671 ext. 123", Err("extensions are not supported")),
        (
            "415-555-2671 extension 9",
            Err("extensions are not supported"),
        ),
        ("415-555-2671#123", Err("extensions are not supported")),
        ("415-555-2671;ext=123", Err("extensions are not supported")),
        // Misplaced '+'.
        ("415+555-2671", Err("'+' is only allowed at the start")),
        ("1+4155552671", Err("'+' is only allowed at the start")),
        ("++14155552671", Err("'+' is only allowed at the start")),
        ("4155552671+", Err("'+' is only allowed at the start")),
        // Parentheses.
        ("(415 555-2671", Err("unbalanced parentheses")),
        ("415) 555-2671", Err("unbalanced parentheses")),
        (
            "(415) (555) 2671",
            Err("parentheses may only surround the area code"),
        ),
        (
            "((415)) 555-2671",
            Err("parentheses may only surround the area code"),
        ),
        (
            "415 (555) 2671",
            Err("parentheses may only surround the area code"),
        ),
        (
            "(1) 415 555 2671",
            Err("parentheses may only surround the area code"),
        ),
        (
            "(4155) 55-2671",
            Err("parentheses may only surround the area code"),
        ),
        (
            "() 415 555 2671",
            Err("parentheses may only surround the area code"),
        ),
        // Other characters.
        ("415/555/2671", Err("contains invalid character '/'")),
        ("415_555_2671", Err("contains invalid character '_'")),
        ("4155552671#", Err("contains invalid character '#'")),
        ("４１５-555-2671", Err("contains invalid character '４'")),
    ];

    #[test]
    fn validate_number_table() {
        let mut failures = Vec::new();
        for &(input, expected) in NUMBER_CASES {
            let got = validate_number(input);
            let want = match expected {
                Ok(e164) => Validation {
                    input: input.to_string(),
                    valid: true,
                    e164: Some(e164.to_string()),
                    reason: None,
                },
                Err(reason) => Validation {
                    input: input.to_string(),
                    valid: false,
                    e164: None,
                    reason: Some(reason.to_string()),
                },
            };
            if got != want {
                failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(NUMBER_CASES.len() >= 25);
        assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    }

    #[test]
    fn validation_keeps_input_verbatim() {
        let v = validate_number("  (415) 555-2671 ");
        assert_eq!(v.input, "  (415) 555-2671 ");
        assert!(v.valid);
        assert_eq!(v.e164.as_deref(), Some("+14155552671"));
    }

    #[test]
    fn area_code_cases() {
        let cases: &[(&str, Result<u16, &str>)] = &[
            ("415", Ok(415)),
            ("200", Ok(200)),
            ("212", Ok(212)),
            ("289", Ok(289)),
            ("555", Ok(555)),
            ("800", Ok(800)),
            ("989", Ok(989)),
            ("011", Err("area code cannot start with 0 or 1")),
            ("099", Err("area code cannot start with 0 or 1")),
            ("111", Err("area code cannot start with 0 or 1")),
            ("121", Err("area code cannot start with 0 or 1")),
            ("211", Err("area code cannot be an N11 code")),
            ("811", Err("area code cannot be an N11 code")),
            ("911", Err("area code cannot be an N11 code")),
            ("290", Err("area code with 9 as middle digit is reserved")),
            ("495", Err("area code with 9 as middle digit is reserved")),
            ("999", Err("area code with 9 as middle digit is reserved")),
            ("", Err("area code must be three digits")),
            ("41", Err("area code must be three digits")),
            ("4155", Err("area code must be three digits")),
            (" 415", Err("area code must be three digits")),
            ("415 ", Err("area code must be three digits")),
            ("+415", Err("area code must be three digits")),
            ("41a", Err("area code must be three digits")),
            ("-15", Err("area code must be three digits")),
            ("４１５", Err("area code must be three digits")),
        ];
        for &(code, expected) in cases {
            assert_eq!(
                validate_area_code(code),
                expected.map_err(str::to_string),
                "{code:?}"
            );
        }
    }

    #[test]
    fn area_code_count_and_consistency() {
        // 800 codes start with 2-9; minus 8 N11 codes and 80 with middle digit 9.
        let valid: Vec<u16> = (0..1000u16)
            .filter(|n| validate_area_code(&format!("{n:03}")).is_ok())
            .collect();
        assert_eq!(valid.len(), 712);
        // validate_number agrees with validate_area_code on every area code.
        for n in 0..1000u16 {
            let by_code = validate_area_code(&format!("{n:03}")).is_ok();
            let by_number = validate_number(&format!("{n:03}-234-5678")).valid;
            assert_eq!(by_code, by_number, "{n:03}");
        }
    }

    #[test]
    fn generates_100000_distinct_valid_numbers() {
        let mut rng = StdRng::seed_from_u64(0x4EA7);
        let mut stop_calls = 0usize;
        let mut progress = Vec::new();
        let numbers = generate_numbers(
            &mut rng,
            415,
            MAX_QUANTITY,
            &mut || {
                stop_calls += 1;
                false
            },
            &mut |done| progress.push(done),
        );
        assert_eq!(numbers.len(), MAX_QUANTITY);
        let distinct: HashSet<&String> = numbers.iter().collect();
        assert_eq!(distinct.len(), MAX_QUANTITY);
        for n in &numbers {
            assert!(n.starts_with("+1415"), "{n}");
            let v = validate_number(n);
            assert!(v.valid, "{n}: {:?}", v.reason);
            assert_eq!(v.e164.as_deref(), Some(n.as_str()));
        }
        // should_stop consulted at 0, 1000, ..., 99000.
        assert_eq!(stop_calls, MAX_QUANTITY / 1000);
        // Progress every 1000 and once at the end, never decreasing.
        assert_eq!(progress.last(), Some(&MAX_QUANTITY));
        let mut previous = 0;
        for &done in &progress {
            assert!(done >= previous && done - previous <= 1000, "{progress:?}");
            previous = done;
        }
        assert_eq!(progress.len(), MAX_QUANTITY / 1000);
    }

    #[test]
    fn generation_is_reproducible_with_a_seed() {
        let run = |seed| {
            generate_numbers(
                &mut StdRng::seed_from_u64(seed),
                212,
                500,
                &mut || false,
                &mut |_| {},
            )
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn generation_in_edge_area_codes_is_valid() {
        let mut rng = StdRng::seed_from_u64(1);
        for area in [200u16, 289, 555, 800, 989] {
            let numbers = generate_numbers(&mut rng, area, 3000, &mut || false, &mut |_| {});
            assert_eq!(numbers.len(), 3000);
            let prefix = format!("+1{area}");
            for n in &numbers {
                assert!(n.starts_with(&prefix) && n.len() == 12, "{n}");
                assert!(validate_number(n).valid, "{n}");
            }
        }
    }

    #[test]
    fn stop_callback_is_honoured() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut calls = 0;
        let mut progress = Vec::new();
        let numbers = generate_numbers(
            &mut rng,
            415,
            10_000,
            &mut || {
                calls += 1;
                calls >= 3
            },
            &mut |done| progress.push(done),
        );
        // Checked at 0 (false), 1000 (false), 2000 (true).
        assert_eq!(calls, 3);
        assert_eq!(numbers.len(), 2000);
        assert_eq!(progress, vec![1000, 2000]);
        let distinct: HashSet<&String> = numbers.iter().collect();
        assert_eq!(distinct.len(), 2000);
    }

    #[test]
    fn stop_before_start_returns_nothing() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut progress = Vec::new();
        let numbers = generate_numbers(&mut rng, 415, 500, &mut || true, &mut |done| {
            progress.push(done);
        });
        assert!(numbers.is_empty());
        assert_eq!(progress, vec![0]);
    }

    #[test]
    fn progress_reaches_quantity() {
        for (quantity, expected) in [
            (0usize, vec![0usize]),
            (1, vec![1]),
            (999, vec![999]),
            (1000, vec![1000]),
            (1001, vec![1000, 1001]),
            (1500, vec![1000, 1500]),
            (3000, vec![1000, 2000, 3000]),
        ] {
            let mut rng = StdRng::seed_from_u64(4);
            let mut progress = Vec::new();
            let numbers = generate_numbers(&mut rng, 646, quantity, &mut || false, &mut |done| {
                progress.push(done);
            });
            assert_eq!(numbers.len(), quantity);
            assert_eq!(progress, expected, "quantity {quantity}");
        }
    }

    #[test]
    fn quantity_is_clamped_to_max() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut last = None;
        let numbers = generate_numbers(
            &mut rng,
            303,
            MAX_QUANTITY + 5,
            &mut || false,
            &mut |done| last = Some(done),
        );
        assert_eq!(numbers.len(), MAX_QUANTITY);
        assert_eq!(last, Some(MAX_QUANTITY));
    }

    #[test]
    fn invalid_area_code_generates_nothing() {
        let mut rng = StdRng::seed_from_u64(6);
        for area in [0u16, 115, 911, 290, 1000, u16::MAX] {
            let mut progress = Vec::new();
            let numbers = generate_numbers(&mut rng, area, 10, &mut || false, &mut |done| {
                progress.push(done);
            });
            assert!(numbers.is_empty(), "{area}");
            assert_eq!(progress, vec![0], "{area}");
        }
    }

    #[test]
    fn works_with_thread_rng() {
        let numbers = generate_numbers(&mut rand::rng(), 415, 100, &mut || false, &mut |_| {});
        assert_eq!(numbers.len(), 100);
        assert!(numbers.iter().all(|n| validate_number(n).valid));
    }
}
