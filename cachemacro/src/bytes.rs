//! `max_bytes`: a whole number of bytes, or a string of digits and a unit (`"64MiB"`).

use syn::spanned::Spanned;
use syn::{Expr, Lit};

use crate::attr::{amount_and_unit, literal};

/// The units, decimal and binary, and what each is worth.
const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
];

const FORMAT: &str = "write digits then a unit, one of B, KB, KiB, MB, MiB, GB, GiB (KB = 1000 bytes, KiB = 1024), as in \"64MiB\"";

/// Parses `max_bytes`, every mistake on the value.
pub(crate) fn parse_option(value: &Expr) -> syn::Result<u64> {
    let span = value.span();
    let bytes = match literal(value) {
        Some(Lit::Int(int)) => int.base10_parse::<u64>().map_err(|_| {
            syn::Error::new(
                span,
                "`max_bytes` is out of range: it must fit in a u64 of bytes",
            )
        })?,
        Some(Lit::Str(text)) => parse(&text.value()).map_err(|why| {
            syn::Error::new(
                span,
                format!("`max_bytes = {:?}` is not a size: {why}", text.value()),
            )
        })?,
        _ => {
            return Err(syn::Error::new(
                span,
                "`max_bytes` takes a whole number of bytes (`max_bytes = 1_000_000`) or a string with a unit (`max_bytes = \"64MiB\"`, \"500KB\", \"2GiB\")",
            ));
        }
    };
    if bytes == 0 {
        return Err(syn::Error::new(
            span,
            "`max_bytes` must be at least 1 byte; to bound only the number of entries, leave it out (`capacity` does that)",
        ));
    }
    Ok(bytes)
}

/// Parses `"<digits><unit>"` into bytes (zero included: the option says why it cannot be zero).
pub(crate) fn parse(text: &str) -> Result<u64, String> {
    let Some((digits, unit)) = amount_and_unit(text) else {
        return Err(FORMAT.into());
    };
    let per_unit = match UNITS.iter().find(|(name, _)| *name == unit) {
        Some(&(_, per_unit)) => per_unit,
        None if unit.is_empty() => return Err(format!("the unit is missing: {FORMAT}")),
        None => return Err(unknown_unit(&digits, unit)),
    };
    let amount: u64 = digits
        .parse()
        .map_err(|_| "the number is too large for a u64 of bytes".to_string())?;
    amount
        .checked_mul(per_unit)
        .ok_or_else(|| "it overflows a u64 of bytes".to_string())
}

/// The message for a unit that is not one of [`UNITS`]: the ones it may have meant, written
/// right, when it is one of them with another case or a space.
fn unknown_unit(digits: &str, unit: &str) -> String {
    let squeezed = unit.trim();
    let meant: Vec<&str> = UNITS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            name.eq_ignore_ascii_case(squeezed)
                || (squeezed.len() == 1 && name.starts_with(&squeezed.to_ascii_uppercase()))
        })
        .filter(|name| name.len() > 1 || squeezed.eq_ignore_ascii_case("b"))
        .collect();
    match meant[..] {
        [] => format!("unknown unit `{squeezed}`: {FORMAT}"),
        [one] => format!(
            "write it as \"{digits}{one}\", digits then a unit without a space (the units are B, KB, KiB, MB, MiB, GB, GiB)"
        ),
        _ => {
            let spelled: Vec<String> = meant
                .iter()
                .map(|name| format!("\"{digits}{name}\""))
                .collect();
            format!(
                "write it as {} (KB = 1000 bytes, KiB = 1024), digits then a unit without a space",
                spelled.join(" or ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse("64MiB"), Ok(64 << 20));
        assert_eq!(parse("500KB"), Ok(500_000));
        assert_eq!(parse("1_000B"), Ok(1000));
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("3GB"), Ok(3_000_000_000));
        assert_eq!(parse("1KiB"), Ok(1024));
        assert_eq!(parse("7MB"), Ok(7_000_000));
        assert_eq!(parse("0B"), Ok(0));
        assert!(parse("64").unwrap_err().starts_with("the unit is missing"));
        assert!(parse("MiB").is_err());
        assert!(parse("99999999999999999999B").is_err());
        assert_eq!(
            parse("17179869184GiB").unwrap_err(),
            "it overflows a u64 of bytes"
        );
    }

    #[test]
    fn misspelt_units_are_rewritten() {
        assert!(
            parse("64mib")
                .unwrap_err()
                .starts_with("write it as \"64MiB\"")
        );
        assert!(
            parse("64 MiB")
                .unwrap_err()
                .starts_with("write it as \"64MiB\"")
        );
        assert!(
            parse("64M")
                .unwrap_err()
                .starts_with("write it as \"64MB\" or \"64MiB\"")
        );
        assert!(parse("64x").unwrap_err().starts_with("unknown unit `x`"));
    }
}
