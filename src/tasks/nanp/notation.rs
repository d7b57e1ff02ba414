//! Hand-written notation checks. They never decide that a number is valid (libphonenumber
//! does); they refuse inputs that are not a single dialable number (letters, extensions) and
//! put a precise English reason on inputs the library rejects.

/// Why the input is refused before the library sees it: empty, an extension, or letters.
///
/// libphonenumber would accept `1-800-FLOWERS` (letters become digits) and `415-555-2671
/// x12` (the extension is split off); a cleaned list for bulk SMS wants neither.
pub(super) fn refusal(input: &str) -> Option<&'static str> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        Some("empty input")
    } else if has_extension(trimmed) {
        Some("extensions are not supported")
    } else if trimmed.chars().any(char::is_alphabetic) {
        Some("contains letters")
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

/// Reads the input in the strict notation of the old hand-written rules and returns its
/// 10-digit national number (`NPANXXXXXX`), or the first notation problem as a sentence.
///
/// Used only to explain why the library rejected an input: a digit count, a misplaced `+`,
/// unbalanced parentheses, a character that is not a separator, a country code other than 1.
pub(super) fn national_digits(input: &str) -> Result<[u8; 10], String> {
    let trimmed = input.trim();
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
    let mut out = [0u8; 10];
    out.copy_from_slice(national);
    Ok(out)
}

/// Why a numeric area code can never be assigned (first digit 0 or 1, an N11 code, or 9 as
/// the middle digit), or `None`. No NANP member uses such a code, in the library's data too.
pub(super) fn area_code_structure(npa: u16) -> Option<&'static str> {
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

/// Whether exchange and subscriber number are in `555-0100` to `555-0199`, the range the
/// NANP reserves for fiction. libphonenumber counts them valid (its US example number is
/// `201-555-0123`); they never reach a phone.
pub(super) fn is_fictional(nxx: u16, line: u16) -> bool {
    nxx == 555 && (100..=199).contains(&line)
}
