//! Unit tests: the notation table, area codes, generation. The library's example numbers
//! are in `examples`, the seeded corpus in `corpus`.

mod corpus;
mod examples;

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashSet;

/// (input, Ok((e164, type, region)) or Err(reason))
type Case = (
    &'static str,
    Result<(&'static str, &'static str, &'static str), &'static str>,
);

const NUMBER_CASES: &[Case] = &[
    // Valid, in every notation.
    (
        "(415) 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "(415)555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "( 415 ) 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415.555.2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415-555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415 555 2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415\t555\t2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "4155552671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "  415-555-2671  ",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "+14155552671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "+1 415 555 2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "+1 (415) 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "+1-415-555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "+1.415.555.2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "1-415-555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "1 (415) 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "1(415)5552671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "1.415.555.2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "14155552671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "212-555-1234",
        Ok(("+12125551234", "fixed_line_or_mobile", "US")),
    ),
    (
        "289-200-0000",
        Ok(("+12892000000", "fixed_line_or_mobile", "CA")),
    ),
    (
        "989-999-9999",
        Ok(("+19899999999", "fixed_line_or_mobile", "US")),
    ),
    (
        "415-555-0099",
        Ok(("+14155550099", "fixed_line_or_mobile", "US")),
    ),
    (
        "415-555-0200",
        Ok(("+14155550200", "fixed_line_or_mobile", "US")),
    ),
    (
        "415-556-0150",
        Ok(("+14155560150", "fixed_line_or_mobile", "US")),
    ),
    ("555-555-5555", Err("area code 555 is not in service")),
    // Types and regions of the NANP members.
    ("(800) 234-5678", Ok(("+18002345678", "toll_free", "US"))),
    ("1-888-234-5678", Ok(("+18882345678", "toll_free", "US"))),
    ("900-234-5678", Ok(("+19002345678", "premium_rate", "US"))),
    (
        "500-234-5678",
        Ok(("+15002345678", "personal_number", "US")),
    ),
    (
        "+1 204 234 5678",
        Ok(("+12042345678", "fixed_line_or_mobile", "CA")),
    ),
    (
        "867-222-1234",
        Ok(("+18672221234", "fixed_line_or_mobile", "CA")),
    ),
    ("876-210-1234", Ok(("+18762101234", "mobile", "JM"))),
    ("(441) 412-3456", Ok(("+14414123456", "fixed_line", "BM"))),
    (
        "+1 787 234 5678",
        Ok(("+17872345678", "fixed_line_or_mobile", "PR")),
    ),
    ("684-733-1234", Ok(("+16847331234", "mobile", "AS"))),
    ("868-619-1234", Ok(("+18686191234", "voicemail", "TT"))),
    ("246-430-1234", Ok(("+12464301234", "uan", "BB"))),
    ("268-406-1234", Ok(("+12684061234", "pager", "AG"))),
    ("649-710-1234", Ok(("+16497101234", "voip", "TC"))),
    // Area codes not in service, and an exchange not in use in a Caribbean code.
    ("373-234-5678", Err("area code 373 is not in service")),
    ("981-234-5678", Err("area code 981 is not in service")),
    ("285-234-5678", Err("area code 285 is not in service")),
    (
        "664-234-5678",
        Err("exchange code 234 is not in use in area code 664"),
    ),
    // International numbers and the international dialling prefix from the US.
    ("011 44 20 7946 0958", Err("not a NANP country code")),
    ("+52 55 1234 5678", Err("not a NANP country code")),
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
    // Exchange codes: the library's data decides. N11 exchanges are in use in 415 (the old
    // hand-written rule refused them); 0/1-leading ones are not.
    (
        "415-911-2671",
        Ok(("+14159112671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415-411-2671",
        Ok(("+14154112671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415-055-2671",
        Err("exchange code 055 is not in use in area code 415"),
    ),
    (
        "415-155-2671",
        Err("exchange code 155 is not in use in area code 415"),
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
    // Notation the library refuses, explained by the old rules.
    ("415+555-2671", Err("'+' is only allowed at the start")),
    ("1+4155552671", Err("'+' is only allowed at the start")),
    (
        "++14155552671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "4155552671+",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    // Notation the library reads (the old rules refused it): stray or doubled parentheses,
    // a doubled or trailing '+'.
    (
        "(415 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415) 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "(415) (555) 2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "((415)) 555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "415 (555) 2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "(1) 415 555 2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "(4155) 55-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    (
        "() 415 555 2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    // Other characters: '/' is a separator and fullwidth digits are digits to the library.
    (
        "415/555/2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
    ("415_555_2671", Err("contains invalid character '_'")),
    ("4155552671#", Err("contains invalid character '#'")),
    (
        "４１５-555-2671",
        Ok(("+14155552671", "fixed_line_or_mobile", "US")),
    ),
];

#[test]
fn validate_number_table() {
    let mut failures = Vec::new();
    for &(input, expected) in NUMBER_CASES {
        let got = validate_number(input);
        let want = match expected {
            Ok((e164, t, region)) => Validation {
                input: input.to_string(),
                valid: true,
                e164: Some(e164.to_string()),
                number_type: NumberType::from_name(t),
                region: Some(region.to_string()),
                reason: None,
            },
            Err(reason) => Validation::invalid(input, reason),
        };
        if got != want {
            failures.push(format!("{input:?}: got {got:?}"));
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
        ("201", Ok(201)),
        ("212", Ok(212)),
        ("289", Ok(289)),
        ("907", Ok(907)),
        ("808", Ok(808)),
        ("204", Ok(204)),
        ("867", Ok(867)),
        ("876", Ok(876)),
        ("664", Ok(664)),
        ("989", Ok(989)),
        ("373", Err("area code 373 is not in service")),
        ("555", Err("area code 555 is not in service")),
        ("200", Err("area code 200 is not in service")),
        (
            "900",
            Err("area code 900 is for premium rate numbers, not a geographic area code"),
        ),
        (
            "800",
            Err("area code 800 is for toll-free numbers, not a geographic area code"),
        ),
        (
            "500",
            Err("area code 500 is for personal number numbers, not a geographic area code"),
        ),
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
        assert!(v.number_type.is_some_and(NumberType::is_geographic), "{n}");
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
fn generation_in_every_kind_of_area_code_is_valid() {
    let mut rng = StdRng::seed_from_u64(1);
    // The eight, Caribbean and Pacific members, the sparsest codes in the data.
    for area in [
        415u16, 212, 646, 305, 907, 808, 204, 867, 242, 246, 264, 284, 340, 664, 670, 684, 868, 876,
    ] {
        let numbers = generate_numbers(&mut rng, area, 2000, &mut || false, &mut |_| {});
        assert_eq!(numbers.len(), 2000, "{area}");
        let prefix = format!("+1{area}");
        for n in &numbers {
            assert!(n.starts_with(&prefix) && n.len() == 12, "{n}");
            let v = validate_number(n);
            assert!(v.valid, "{n}: {:?}", v.reason);
            assert!(v.number_type.is_some_and(NumberType::is_geographic), "{n}");
            assert!(!n[5..].starts_with("55501"), "{n} is fictional");
        }
    }
}

#[test]
fn generation_never_yields_fictional_numbers() {
    // Drawn from one exchange's worth of numbers many times over: 555 is a valid exchange
    // in 212, so without the rule 555-01XX would appear.
    let mut rng = StdRng::seed_from_u64(9);
    let numbers = generate_numbers(&mut rng, 212, MAX_QUANTITY, &mut || false, &mut |_| {});
    assert!(numbers.iter().any(|n| n.starts_with("+1212555")));
    assert!(numbers.iter().all(|n| !n.starts_with("+121255501")));
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
fn refused_area_codes_generate_nothing() {
    let mut rng = StdRng::seed_from_u64(6);
    for area in [0u16, 115, 911, 290, 373, 555, 800, 900, 500, 1000, u16::MAX] {
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
