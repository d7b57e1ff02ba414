//! The library's own example numbers for every NANP region and every type.

use super::super::*;
use rlibphonenumber::{PhoneNumber, PhoneNumberType};
use std::collections::BTreeSet;

/// The concrete types the library has example numbers for.
const TYPES: [PhoneNumberType; 11] = [
    PhoneNumberType::FixedLine,
    PhoneNumberType::Mobile,
    PhoneNumberType::FixedLineOrMobile,
    PhoneNumberType::TollFree,
    PhoneNumberType::PremiumRate,
    PhoneNumberType::SharedCost,
    PhoneNumberType::VoIP,
    PhoneNumberType::PersonalNumber,
    PhoneNumberType::Pager,
    PhoneNumberType::UAN,
    PhoneNumberType::VoiceMail,
];

fn nanp_regions() -> Vec<Region> {
    let u = &*PHONE_NUMBER_UTIL;
    u.get_supported_regions()
        .filter(|r| u.is_nanpa_country(*r))
        .collect()
}

/// What [`validate_number`] must answer for a library example number.
fn expect(example: &PhoneNumber, written: &str) -> Validation {
    let national = rlibphonenumber::get_national_significant_number_owned(example);
    if national.len() == 10 && &national[3..7] == "5550" && &national[7..8] == "1" {
        return Validation::invalid(written, "555-01XX numbers are fictional");
    }
    Validation {
        input: written.to_string(),
        valid: true,
        e164: Some(format!("+1{national}")),
        number_type: library::number_type(example),
        region: library::region(example),
        reason: None,
    }
}

#[test]
fn every_nanp_example_number_is_valid_with_its_type_and_region() {
    let u = &*PHONE_NUMBER_UTIL;
    let regions = nanp_regions();
    assert_eq!(regions.len(), 25, "US, CA and 23 other members");
    let mut types_seen = BTreeSet::new();
    let mut regions_seen = BTreeSet::new();
    let mut checked = 0;
    for region in regions {
        for t in TYPES {
            let Ok(example) = u.get_example_number_for_type_and_region(region, t) else {
                continue;
            };
            assert!(example.is_valid(), "{region} {t:?}");
            for format in [PhoneNumberFormat::E164, PhoneNumberFormat::International] {
                let written = u.format(&example, format).into_owned();
                let got = validate_number(&written);
                assert_eq!(got, expect(&example, &written), "{region} {t:?}");
                if let Some(nt) = got.number_type {
                    types_seen.insert(nt.as_str());
                    regions_seen.insert(got.region.clone().unwrap_or_default());
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 250, "{checked}");
    // Every type the NANP data has (shared cost exists only outside the NANP).
    let want = [
        "fixed_line",
        "fixed_line_or_mobile",
        "mobile",
        "pager",
        "personal_number",
        "premium_rate",
        "toll_free",
        "uan",
        "voicemail",
        "voip",
    ];
    assert_eq!(types_seen, want.into_iter().collect(), "{types_seen:?}");
    assert!(regions_seen.len() >= 20, "{regions_seen:?}");
}

#[test]
fn the_us_example_number_is_fictional() {
    // The library's US example, 201-555-0123, is in the range reserved for fiction.
    let ex = PHONE_NUMBER_UTIL
        .get_example_number_for_type_and_region(Region::US, PhoneNumberType::FixedLine)
        .unwrap();
    assert_eq!(ex.national_number, 2015550123);
    let v = validate_number("201-555-0123");
    assert!(!v.valid);
    assert_eq!(v.reason.as_deref(), Some("555-01XX numbers are fictional"));
    assert!(validate_number("201-555-0200").valid);
}

#[test]
fn examples_outside_the_nanp_are_refused_for_every_type() {
    let u = &*PHONE_NUMBER_UTIL;
    let mut types = BTreeSet::new();
    for region in [Region::GB, Region::FR, Region::DE, Region::IT, Region::AU] {
        for t in TYPES {
            let Ok(example) = u.get_example_number_for_type_and_region(region, t) else {
                continue;
            };
            let written = u.format(&example, PhoneNumberFormat::E164).into_owned();
            let v = validate_number(&written);
            assert_eq!(v, Validation::invalid(&written, "not a NANP country code"));
            types.insert(format!("{t:?}"));
        }
    }
    assert!(
        types.contains("SharedCost") && types.contains("UAN"),
        "{types:?}"
    );
}

#[test]
fn type_names_round_trip() {
    for t in NumberType::ALL {
        assert_eq!(NumberType::from_name(t.as_str()), Some(t));
    }
    assert_eq!(NumberType::from_name("landline"), None);
}
