//! Phone number benchmark: `validate_number` and `generate_numbers` on one core.
//!
//! `cargo bench --bench phone_numbers` validates a seeded mixed corpus of 100,000 inputs
//! (valid numbers, area codes not in service, Caribbean and toll-free codes, other notations)
//! twice (first with cold caches, so area codes are surveyed as they come; then warm), timing
//! each block of 500 (the task's progress and cancel interval), and generates 100,000 numbers in 415 and in
//! 664 (Montserrat, the sparsest area code), printing numbers per second.

use hearth::tasks::nanp;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

const N: usize = 100_000;

fn corpus() -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(42);
    (0..N)
        .map(|i| {
            let npa = match i % 4 {
                0 => rng.random_range(200..1000u16),
                1 => [415, 212, 646, 305, 907, 808, 204, 867][rng.random_range(0..8)],
                2 => [876, 242, 664, 787, 800, 900][rng.random_range(0..6)],
                _ => rng.random_range(200..1000u16),
            };
            let (nxx, line) = (
                rng.random_range(100..1000u16),
                rng.random_range(0..10_000u16),
            );
            match i % 5 {
                0 => format!("({npa}) {nxx:03}-{line:04}"),
                1 => format!("+1 {npa} {nxx:03} {line:04}"),
                2 => format!("1-{npa}-{nxx:03}-{line:04}"),
                3 => format!("{npa}{nxx:03}{line:04}"),
                _ => format!("{npa}.{nxx:03}.{line:04} x12"),
            }
        })
        .collect()
}

fn main() {
    let inputs = corpus();
    for pass in ["cold", "warm"] {
        // The task reports progress and checks for cancellation every 500 inputs.
        let started = Instant::now();
        let (mut valid, mut slowest) = (0, 0f64);
        for chunk in inputs.chunks(500) {
            let t = Instant::now();
            valid += chunk
                .iter()
                .filter(|s| nanp::validate_number(s).valid)
                .count();
            slowest = slowest.max(t.elapsed().as_secs_f64());
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "validate_number ({pass}): {N} inputs ({valid} valid) in {:.3} s = {:.0} numbers/s, \
             slowest 500 in {:.1} ms",
            secs,
            N as f64 / secs,
            slowest * 1000.0
        );
    }
    for area in [415u16, 664] {
        let started = Instant::now();
        let numbers = nanp::generate_numbers(
            &mut StdRng::seed_from_u64(1),
            area,
            N,
            &mut || false,
            &mut |_| {},
        );
        let secs = started.elapsed().as_secs_f64();
        println!(
            "generate_numbers({area}): {} numbers in {:.3} s = {:.0} numbers/s",
            numbers.len(),
            secs,
            numbers.len() as f64 / secs
        );
    }
}
