//! The source of truth: Google's libphonenumber metadata through the `rlibphonenumber`
//! crate, and what this module derives from it (area code status, exchanges in use), cached
//! per area code.

use std::sync::OnceLock;

use rlibphonenumber::{PhoneNumber, PhoneNumberType, PHONE_NUMBER_UTIL};

/// The kind of a valid number, as libphonenumber classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberType {
    /// A mobile number.
    Mobile,
    /// A landline.
    FixedLine,
    /// Either; the number itself does not tell (most of the US and Canada).
    FixedLineOrMobile,
    /// Free for the caller (800, 888, ...).
    TollFree,
    /// Charged above the normal rate (900).
    PremiumRate,
    /// Cost shared between caller and callee.
    SharedCost,
    /// Voice over IP.
    Voip,
    /// A personal (follow-me) number (500, 533, ...).
    PersonalNumber,
    /// A pager.
    Pager,
    /// Universal access number (a company number routed by the network).
    Uan,
    /// A voicemail access number.
    Voicemail,
    /// Valid, but of no specific type.
    Unknown,
}

impl NumberType {
    /// Every type, in the order of the contract.
    pub const ALL: [NumberType; 12] = [
        NumberType::Mobile,
        NumberType::FixedLine,
        NumberType::FixedLineOrMobile,
        NumberType::TollFree,
        NumberType::PremiumRate,
        NumberType::SharedCost,
        NumberType::Voip,
        NumberType::PersonalNumber,
        NumberType::Pager,
        NumberType::Uan,
        NumberType::Voicemail,
        NumberType::Unknown,
    ];

    /// The name on the wire (`mobile`, `fixed_line`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::Mobile => "mobile",
            NumberType::FixedLine => "fixed_line",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::Voip => "voip",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Unknown => "unknown",
        }
    }

    /// The type with this wire name.
    pub fn from_name(name: &str) -> Option<NumberType> {
        NumberType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether numbers of this type belong to a place (landline or mobile): the only types
    /// a geographic area code is made of and generation produces.
    pub fn is_geographic(self) -> bool {
        matches!(
            self,
            NumberType::Mobile | NumberType::FixedLine | NumberType::FixedLineOrMobile
        )
    }

    /// The library's type, or `None` for an invalid number (the library's `Unknown`).
    fn from_library(t: PhoneNumberType) -> Option<NumberType> {
        Some(match t {
            PhoneNumberType::Mobile => NumberType::Mobile,
            PhoneNumberType::FixedLine => NumberType::FixedLine,
            PhoneNumberType::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            PhoneNumberType::TollFree => NumberType::TollFree,
            PhoneNumberType::PremiumRate => NumberType::PremiumRate,
            PhoneNumberType::SharedCost => NumberType::SharedCost,
            PhoneNumberType::VoIP => NumberType::Voip,
            PhoneNumberType::PersonalNumber => NumberType::PersonalNumber,
            PhoneNumberType::Pager => NumberType::Pager,
            PhoneNumberType::UAN => NumberType::Uan,
            PhoneNumberType::VoiceMail => NumberType::Voicemail,
            PhoneNumberType::Unknown => return None,
        })
    }
}

/// The type of a parsed number when libphonenumber finds it valid, else `None`.
///
/// The library's `is_valid_number` is exactly "its region's metadata gives it a type other
/// than unknown", so one call answers both questions.
pub(super) fn number_type(number: &PhoneNumber) -> Option<NumberType> {
    NumberType::from_library(PHONE_NUMBER_UTIL.get_number_type(number))
}

/// The ISO 3166 region of a valid number (`"US"`, `"CA"`, `"JM"`, ...).
pub(super) fn region(number: &PhoneNumber) -> Option<String> {
    PHONE_NUMBER_UTIL
        .get_region_for_number(number)
        .map(|r| r.as_region_str().to_string())
}

/// A NANP number (country code 1) from its ten national digits.
pub(super) fn nanp_number(national: u64) -> PhoneNumber {
    PhoneNumber {
        country_code: 1,
        national_number: national,
        ..PhoneNumber::default()
    }
}

/// What the library's data says about an area code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaCodeStatus {
    /// Some exchange holds landline or mobile numbers.
    Geographic,
    /// Only non-geographic numbers, all of this type (e.g. toll-free 800, premium-rate 900).
    NonGeographic(NumberType),
    /// No number in it is valid.
    NotInService,
}

/// Subscriber numbers tried in each exchange when surveying an area code.
const PROBES: [u64; 2] = [2345, 6789];

/// The status of area code `npa` (200-999), computed from the library once and cached.
pub(super) fn area_code_status(npa: u16) -> AreaCodeStatus {
    static CACHE: [OnceLock<AreaCodeStatus>; 1000] = [const { OnceLock::new() }; 1000];
    let Some(slot) = CACHE.get(usize::from(npa)) else {
        return AreaCodeStatus::NotInService;
    };
    *slot.get_or_init(|| survey(npa))
}

/// Classifies every area code in the background, once per process, so that the first
/// validation task does not pay for the surveys (about 1 s of one core in all).
pub fn warm_up() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("nanp-warm-up".into())
            .spawn(|| {
                for npa in 200..1000 {
                    area_code_status(npa);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the area code survey");
        }
    });
}

/// Scans the exchanges of `npa` (one probe number each) until one holds a geographic
/// number: one probe for most codes, 1,000 (about 2 ms) for a code not in service.
fn survey(npa: u16) -> AreaCodeStatus {
    let mut other: Option<NumberType> = None;
    for nxx in (200..1000).chain(0..200) {
        match probe(npa, nxx, PROBES[0]) {
            Some(t) if t.is_geographic() => return AreaCodeStatus::Geographic,
            Some(t) => other = other.or(Some(t)),
            None => {}
        }
    }
    other.map_or(AreaCodeStatus::NotInService, AreaCodeStatus::NonGeographic)
}

/// The library's type for `NPA-NXX-line`.
fn probe(npa: u16, nxx: u16, line: u64) -> Option<NumberType> {
    let national = u64::from(npa) * 10_000_000 + u64::from(nxx) * 10_000 + line;
    number_type(&nanp_number(national))
}

/// Whether any probed number of exchange `nxx` in `npa` is valid (of any type).
pub(super) fn exchange_in_use(npa: u16, nxx: u16) -> bool {
    [0, 2345, 6789, 9999]
        .into_iter()
        .any(|line| probe(npa, nxx, line).is_some())
}

/// The exchanges of `npa` whose probed numbers include a geographic one: where generation
/// draws from (each drawn number is still checked in full).
pub(super) fn geographic_exchanges(npa: u16) -> Vec<u16> {
    (0..1000)
        .filter(|&nxx| {
            PROBES
                .into_iter()
                .any(|line| probe(npa, nxx, line).is_some_and(NumberType::is_geographic))
        })
        .collect()
}
