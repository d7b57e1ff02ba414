//! A seeded random corpus in mixed notations, each verdict checked against the library.

use super::super::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Size of the corpus (the issue measured 3,010 inputs).
const CORPUS: usize = 3000;

/// Writes a 10-digit national number in one of the notations people use.
fn write(rng: &mut StdRng, npa: u16, nxx: u16, line: u16) -> String {
    match rng.random_range(0..12) {
        0 => format!("{npa:03}{nxx:03}{line:04}"),
        1 => format!("({npa:03}) {nxx:03}-{line:04}"),
        2 => format!("{npa:03}-{nxx:03}-{line:04}"),
        3 => format!("{npa:03}.{nxx:03}.{line:04}"),
        4 => format!("1-{npa:03}-{nxx:03}-{line:04}"),
        5 => format!("+1 {npa:03} {nxx:03} {line:04}"),
        6 => format!("+1{npa:03}{nxx:03}{line:04}"),
        7 => format!("1 ({npa:03}) {nxx:03}-{line:04}"),
        8 => format!("  {npa:03} {nxx:03} {line:04} "),
        9 => format!("{npa:03}\t{nxx:03}\t{line:04}"),
        10 => format!("+1 ({npa:03}) {nxx:03}-{line:04}"),
        _ => format!("1{npa:03}{nxx:03}{line:04}"),
    }
}

/// One corpus input: mostly NANP numbers anywhere in 200-999, some in live Caribbean and
/// non-geographic codes, 555 and 555-01XX, and a tail of other inputs.
fn input(rng: &mut StdRng) -> String {
    const CODES: [u16; 16] = [
        242, 246, 264, 268, 284, 340, 345, 441, 473, 649, 664, 670, 671, 684, 721, 868,
    ];
    const OTHER: [&str; 12] = [
        "+44 20 7946 0958",
        "011 44 20 7946 0958",
        "+33 1 23 45 67 89",
        "+52 55 1234 5678",
        "415-555-2671 x12",
        "1-800-FLOWERS",
        "415-555-267",
        "2-415-555-2671",
        "415+555-2671",
        "",
        "+1",
        "4155552671#",
    ];
    let line = rng.random_range(0..10_000u16);
    let nxx = if rng.random_bool(0.9) {
        rng.random_range(200..1000u16)
    } else {
        rng.random_range(0..200u16)
    };
    match rng.random_range(0..20) {
        0..=12 => {
            let npa = rng.random_range(200..1000);
            write(rng, npa, nxx, line)
        }
        13..=15 => {
            let npa = CODES[rng.random_range(0..CODES.len())];
            write(rng, npa, nxx, line)
        }
        16 => {
            let npa = [800, 888, 877, 900, 500, 533, 600][rng.random_range(0..7)];
            write(rng, npa, nxx, line)
        }
        17 => {
            let (npa, line) = (rng.random_range(200..1000), rng.random_range(0..300));
            write(rng, npa, 555, line)
        }
        _ => OTHER[rng.random_range(0..OTHER.len())].to_string(),
    }
}

/// The library's verdict on `input` as a NANP number: `(e164, type, region)` when valid.
fn library_verdict(input: &str) -> Option<(String, Option<NumberType>, Option<String>)> {
    let text = input.replace(|c: char| c.is_whitespace(), " ");
    let n = PHONE_NUMBER_UTIL.parse(&text, Some(Region::US)).ok()?;
    let region = n.get_region_code()?;
    if n.country_code != 1 || !n.is_valid() || !PHONE_NUMBER_UTIL.is_nanpa_country(region) {
        return None;
    }
    let e164 = n.format_as(PhoneNumberFormat::E164).into_owned();
    Some((
        e164,
        library::number_type(&n),
        Some(region.as_region_str().to_string()),
    ))
}

#[test]
fn seeded_corpus_agrees_with_the_library() {
    let mut rng = StdRng::seed_from_u64(0x9A0E);
    let inputs: Vec<String> = (0..CORPUS).map(|_| input(&mut rng)).collect();
    let (mut agree, mut policy, mut valid) = (0, 0, 0);
    let mut failures = Vec::new();
    for input in &inputs {
        let got = validate_number(input);
        let lib = library_verdict(input);
        valid += usize::from(got.valid);
        // The three policies: letters, extensions, 555-01XX.
        let refused = notation::refusal(input).is_some()
            || lib
                .as_ref()
                .is_some_and(|(e, ..)| &e[5..9] == "5550" && &e[9..10] == "1");
        if refused && lib.is_some() {
            policy += 1;
            if got.valid || got.reason.is_none() {
                failures.push(format!("{input:?}: policy should refuse, got {got:?}"));
            }
            continue;
        }
        let want = lib.map(|(e164, t, region)| (Some(e164), t, region));
        let have = got
            .valid
            .then(|| (got.e164.clone(), got.number_type, got.region.clone()));
        if want == have && got.reason.is_some() != got.valid {
            agree += 1;
        } else {
            failures.push(format!("{input:?}: library {want:?}, got {got:?}"));
        }
    }
    eprintln!(
        "corpus: {CORPUS} inputs, {valid} valid, {agree} agree with the library, \
         {policy} refused by policy (letters, extensions, 555-01XX)"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(agree + policy, CORPUS);
    // A mixed corpus: plenty of both verdicts.
    assert!(valid > CORPUS / 3 && valid < CORPUS * 2 / 3, "{valid}");
}
