//! Argon2id password hashing into caller-owned memory, with PHC strings
//! (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`) compatible with `Argon2::hash_password`.
//!
//! Every function here is CPU- and memory-heavy: the server calls them only from the hashing
//! pool ([`super::hasher`]), whose workers each own one reusable [`Memory`]; the command line
//! calls them on its own thread.

use crate::error::{AppError, AppResult};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Largest Argon2 memory cost (KiB) a stored hash may ask for when it is verified: 1 GiB.
pub const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

/// Argon2 working memory: a buffer of 1 KiB blocks, allocated once and reused by every hash.
pub struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// A buffer big enough for hashes with the given memory cost.
    pub fn new(memory_kib: u32) -> AppResult<Memory> {
        let blocks = params(memory_kib)?.block_count();
        Ok(Memory {
            blocks: vec![Block::new(); blocks],
        })
    }

    /// Its size in blocks (KiB).
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }
}

/// The parameters this server hashes with: Argon2id, v=19, `memory_kib` (at least the minimum),
/// the default time cost and parallelism, a 32-byte output.
pub fn params(memory_kib: u32) -> AppResult<Params> {
    Params::new(
        memory_kib.max(Params::MIN_M_COST),
        Params::DEFAULT_T_COST,
        Params::DEFAULT_P_COST,
        Some(Params::DEFAULT_OUTPUT_LEN),
    )
    .map_err(|e| AppError::Internal(format!("argon2 params: {e}")))
}

fn internal(what: &str) -> impl Fn(argon2::password_hash::phc::Error) -> AppError + '_ {
    move |e| AppError::Internal(format!("{what}: {e}"))
}

/// Runs Argon2 into `out`, in `memory` when it is big enough, else in a buffer allocated for
/// this call only (a stored hash made with a larger memory cost than the configured one).
fn run(
    argon: &Argon2<'_>,
    memory: &mut Memory,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let need = argon.params().block_count();
    if need <= memory.blocks.len() {
        argon.hash_password_into_with_memory(password, salt, out, &mut memory.blocks[..need])
    } else {
        let mut once = vec![Block::new(); need];
        argon.hash_password_into_with_memory(password, salt, out, &mut once[..])
    }
}

/// Hashes a password into a PHC string with a fresh random 16-byte salt, using `memory`.
pub fn hash_with(memory: &mut Memory, password: &str, memory_kib: u32) -> AppResult<String> {
    let params = params(memory_kib)?;
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    rand::fill(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    run(&argon, memory, password.as_bytes(), &salt, &mut out)
        .map_err(|e| AppError::Internal(format!("argon2 hash: {e}")))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| AppError::Internal(format!("argon2 params: {e}")))?,
        salt: Some(Salt::new(&salt).map_err(internal("argon2 salt"))?),
        hash: Some(Output::new(&out).map_err(internal("argon2 output"))?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a stored PHC string with the string's own algorithm, version and
/// parameters, using `memory`; compares in constant time. Anything malformed is `false`.
pub fn verify_with(memory: &mut Memory, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
        tracing::error!(
            m_cost = params.m_cost(),
            "stored password hash asks for too much memory"
        );
        return false;
    }
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    if run(&argon, memory, password.as_bytes(), salt.as_ref(), out).is_err() {
        return false;
    }
    constant_time_eq(out, expected.as_bytes())
}

/// `a == b` in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Hashes on the calling thread with memory allocated for this call (the command line, which
/// hashes once and exits).
pub fn hash_password(password: &str, memory_kib: u32) -> AppResult<String> {
    hash_with(&mut Memory::new(memory_kib)?, password, memory_kib)
}

/// The password of the dummy hash that unknown usernames are checked against
/// (`AppState::dummy_hash`, made at start): never a user's.
pub const DUMMY_PASSWORD: &str = "not a real password, only for timing";

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn hash_and_verify() {
        let mut mem = Memory::new(1024).unwrap();
        let h = hash_with(&mut mem, "correct horse", 1024).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=2,p=1$"), "{h}");
        assert!(verify_with(&mut mem, "correct horse", &h));
        assert!(!verify_with(&mut mem, "wrong horse", &h));
        assert!(!verify_with(&mut mem, "x", "not a phc string"));
        assert!(!verify_with(
            &mut mem,
            "x",
            "$argon2id$v=19$m=1024,t=2,p=1$"
        ));
        assert_ne!(
            h,
            hash_with(&mut mem, "correct horse", 1024).unwrap(),
            "salted"
        );
    }

    #[test]
    fn hashes_of_the_previous_code_still_verify() {
        // What the server stored before the hashing pool: `Argon2::hash_password`.
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params(2048).unwrap());
        let old = argon.hash_password(b"old password").unwrap().to_string();
        let argon_default = Argon2::default().hash_password(b"default params").unwrap();
        // A buffer smaller than the hash needs (a lowered memory cost) still verifies.
        let mut small = Memory::new(1024).unwrap();
        assert!(verify_with(&mut small, "old password", &old));
        assert!(!verify_with(&mut small, "old passwordx", &old));
        assert!(verify_with(
            &mut small,
            "default params",
            &argon_default.to_string()
        ));
        // And the previous code verifies ours.
        let ours = hash_with(&mut small, "new password", 1024).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        use argon2::password_hash::PasswordVerifier;
        assert!(Argon2::default()
            .verify_password(b"new password", &parsed)
            .is_ok());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
