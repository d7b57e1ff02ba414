//! Random generation of distinct, library-valid, geographic, non-fictional numbers.

use std::collections::HashSet;

use rand::RngExt;

use super::library::{self, AreaCodeStatus};
use super::notation;
use super::MAX_QUANTITY;

/// [`generate_numbers`] consults its callbacks every this many numbers.
const CALLBACK_INTERVAL: usize = 1000;

/// Generate up to `quantity` distinct numbers in E.164 form in the given area code.
///
/// Every number is valid by libphonenumber, of a geographic type (`fixed_line`, `mobile` or
/// `fixed_line_or_mobile`) and outside the fictional `555-0100`..`555-0199`.
///
/// * `quantity` is clamped to [`MAX_QUANTITY`].
/// * `should_stop` is called before the first number and then every 1000 numbers; when it
///   returns `true`, generation stops and the numbers generated so far are returned.
/// * `on_progress(done)` is called every 1000 numbers and exactly once at the end with the
///   final count (also when stopped early, and with 0 when nothing was generated).
///
/// If `area_code` is not a geographic area code in service (see
/// [`super::validate_area_code`]), nothing is generated. Exchanges are drawn among those the
/// library's data puts geographic numbers in, and subscriber numbers uniformly; a draw the
/// library rejects is redrawn. Pass a seeded RNG for reproducible output.
pub fn generate_numbers<R: rand::Rng + ?Sized>(
    rng: &mut R,
    area_code: u16,
    quantity: usize,
    should_stop: &mut dyn FnMut() -> bool,
    on_progress: &mut dyn FnMut(usize),
) -> Vec<String> {
    let quantity = quantity.min(MAX_QUANTITY);
    let in_service = notation::area_code_structure(area_code).is_none()
        && library::area_code_status(area_code) == AreaCodeStatus::Geographic;
    let exchanges = if in_service {
        library::geographic_exchanges(area_code)
    } else {
        Vec::new()
    };
    if exchanges.is_empty() {
        on_progress(0);
        return Vec::new();
    }
    // A safety net for an area code with very few valid numbers: never loop forever. Every
    // area code in the data has at least 17 geographic exchanges (170,000 numbers).
    let mut attempts_left = quantity.saturating_mul(100).max(100_000);

    // National numbers already used.
    let mut seen: HashSet<u64> = HashSet::with_capacity(quantity);
    let mut numbers = Vec::with_capacity(quantity);
    let base = u64::from(area_code) * 10_000_000;
    'numbers: for done in 0..quantity {
        if done % CALLBACK_INTERVAL == 0 {
            if should_stop() {
                break;
            }
            if done > 0 {
                on_progress(done);
            }
        }
        loop {
            if attempts_left == 0 {
                break 'numbers;
            }
            attempts_left -= 1;
            let nxx = exchanges[rng.random_range(0..exchanges.len())];
            let line: u16 = rng.random_range(0..=9999);
            let national = base + u64::from(nxx) * 10_000 + u64::from(line);
            if notation::is_fictional(nxx, line) || seen.contains(&national) {
                continue;
            }
            let geographic = library::number_type(&library::nanp_number(national))
                .is_some_and(library::NumberType::is_geographic);
            if geographic {
                seen.insert(national);
                numbers.push(format!("+1{national}"));
                break;
            }
        }
    }
    on_progress(numbers.len());
    numbers
}
