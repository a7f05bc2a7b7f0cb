//! Parses the attribute's options (`ttl = 60, capacity = 10_000, ...`) into [`Options`], each value
//! checked for its kind and range and every mistake reported on its own token.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, Token};

use crate::config::{Backend, Lock, Refresh};
use crate::errors::Errors;
use crate::symbol::*;

/// An option's value with the spans of the option's name, for errors that concern the option as a
/// whole (duplicates, combinations), and of its value, for errors about the value chosen.
pub(crate) struct Set<T> {
    pub(crate) key: Span,
    pub(crate) value_span: Span,
    pub(crate) value: T,
}

/// One option, remembering where it was set so that a second setting is reported.
pub(crate) struct Attr<T> {
    name: &'static str,
    set: Option<Set<T>>,
}

impl<T> Attr<T> {
    fn none(name: &'static str) -> Self {
        Attr { name, set: None }
    }

    fn set(&mut self, errors: &mut Errors, key: &Ident, written: &Expr, value: T) {
        if self.set.is_some() {
            errors.at(
                key.span(),
                format_args!("duplicate option `{}`: set it once", self.name),
            );
        } else {
            self.set = Some(Set {
                key: key.span(),
                value_span: written.span(),
                value,
            });
        }
    }

    pub(crate) fn get(&self) -> Option<&Set<T>> {
        self.set.as_ref()
    }

    pub(crate) fn value(&self) -> Option<&T> {
        self.set.as_ref().map(|set| &set.value)
    }
}

/// The options of one `#[memoize(...)]`, each parsed and range-checked on its own.
pub(crate) struct Options {
    /// In milliseconds.
    pub(crate) ttl: Attr<u64>,
    pub(crate) capacity: Attr<u64>,
    /// In bytes.
    pub(crate) max_bytes: Attr<u64>,
    pub(crate) name: Attr<String>,
    pub(crate) version: Attr<u32>,
    pub(crate) ignore: Attr<Vec<Ident>>,
    /// The expression whose value is the key, instead of the arguments.
    pub(crate) key: Attr<Expr>,
    pub(crate) cache_err: Attr<bool>,
    pub(crate) cache_none: Attr<bool>,
    pub(crate) backend: Attr<Backend>,
    pub(crate) refresh: Attr<Refresh>,
    /// In milliseconds.
    pub(crate) refresh_after: Attr<u64>,
    pub(crate) lock: Attr<Lock>,
    /// In milliseconds.
    pub(crate) lock_ttl: Attr<u64>,
    /// The near tier's capacity, in entries.
    pub(crate) near: Attr<u64>,
    /// In milliseconds.
    pub(crate) near_ttl: Attr<u64>,
    pub(crate) krate: Attr<syn::Path>,
    /// The options written with a value that was refused (and reported), so that the checks of
    /// combinations do not report them missing as well.
    rejected: Vec<&'static str>,
}

/// `key = value`, before the value is interpreted.
struct RawOption {
    key: Ident,
    value: Option<Expr>,
}

impl Parse for RawOption {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `crate` is a keyword: accept any identifier here and judge the name afterwards.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else if input.is_empty() || input.peek(Token![,]) {
            None
        } else {
            return Err(input.error(format_args!(
                "expected `=` after `{key}`, as in `{key} = {}`",
                example(&key.unraw().to_string())
            )));
        };
        Ok(RawOption { key, value })
    }
}

impl Options {
    /// Parses `args`; syntax errors stop the parse, every other mistake is collected in `errors`.
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<Options> {
        let raw = Punctuated::<RawOption, Token![,]>::parse_terminated.parse2(args)?;
        let mut options = Options {
            ttl: Attr::none(TTL),
            capacity: Attr::none(CAPACITY),
            max_bytes: Attr::none(MAX_BYTES),
            name: Attr::none(NAME),
            version: Attr::none(VERSION),
            ignore: Attr::none(IGNORE),
            key: Attr::none(KEY),
            cache_err: Attr::none(CACHE_ERR),
            cache_none: Attr::none(CACHE_NONE),
            backend: Attr::none(BACKEND),
            refresh: Attr::none(REFRESH),
            refresh_after: Attr::none(REFRESH_AFTER),
            lock: Attr::none(LOCK),
            lock_ttl: Attr::none(LOCK_TTL),
            near: Attr::none(NEAR),
            near_ttl: Attr::none(NEAR_TTL),
            krate: Attr::none(CRATE),
            rejected: Vec::new(),
        };
        for option in raw {
            options.apply(option, errors);
        }
        Ok(options)
    }

    fn apply(&mut self, option: RawOption, errors: &mut Errors) {
        let key = option.key;
        let name = key.unraw().to_string();
        if !ALL.contains(&name.as_str()) {
            errors.at(key.span(), unknown_option_message(&name));
            // A misspelt option is the one it is closest to, refused.
            if let Some(meant) = closest(&name, ALL) {
                self.reject(meant);
            }
            return;
        }
        let Some(value) = option.value else {
            errors.at(
                key.span(),
                format_args!(
                    "option `{name}` needs a value: `{name} = {}`",
                    example(&name)
                ),
            );
            self.reject(&name);
            return;
        };
        let (key, v) = (&key, &value);
        let parsed = match name.as_str() {
            TTL => parse_duration_option(v, TTL).map(|p| self.ttl.set(errors, key, v, p)),
            REFRESH => {
                parse_choice(v, &REFRESH_CHOICES).map(|p| self.refresh.set(errors, key, v, p))
            }
            REFRESH_AFTER => parse_duration_option(v, REFRESH_AFTER)
                .map(|p| self.refresh_after.set(errors, key, v, p)),
            LOCK => parse_choice(v, &LOCK_CHOICES).map(|p| self.lock.set(errors, key, v, p)),
            LOCK_TTL => {
                parse_duration_option(v, LOCK_TTL).map(|p| self.lock_ttl.set(errors, key, v, p))
            }
            CAPACITY => parse_capacity(v, CAPACITY).map(|p| self.capacity.set(errors, key, v, p)),
            MAX_BYTES => {
                crate::bytes::parse_option(v).map(|p| self.max_bytes.set(errors, key, v, p))
            }
            NEAR => parse_capacity(v, NEAR).map(|p| self.near.set(errors, key, v, p)),
            NEAR_TTL => {
                parse_duration_option(v, NEAR_TTL).map(|p| self.near_ttl.set(errors, key, v, p))
            }
            NAME => parse_name(v).map(|p| self.name.set(errors, key, v, p)),
            VERSION => parse_version(v).map(|p| self.version.set(errors, key, v, p)),
            IGNORE => parse_ignore(v, errors).map(|p| self.ignore.set(errors, key, v, p)),
            // Any expression: `valid` checks the names it uses, the compiler the rest.
            KEY => {
                self.key.set(errors, key, v, v.clone());
                Ok(())
            }
            CACHE_ERR => parse_bool(v, CACHE_ERR).map(|p| self.cache_err.set(errors, key, v, p)),
            CACHE_NONE => parse_bool(v, CACHE_NONE).map(|p| self.cache_none.set(errors, key, v, p)),
            BACKEND => {
                parse_choice(v, &BACKEND_CHOICES).map(|p| self.backend.set(errors, key, v, p))
            }
            CRATE => parse_crate(v).map(|p| self.krate.set(errors, key, v, p)),
            _ => unreachable!("every name in ALL has a parser"),
        };
        if let Err(error) = parsed {
            errors.push(error);
            self.reject(&name);
        }
    }

    fn reject(&mut self, name: &str) {
        if let Some(name) = ALL.iter().find(|known| **known == name) {
            self.rejected.push(name);
        }
    }

    /// Whether `name` was written with a value that was refused (its error already reported).
    pub(crate) fn rejected(&self, name: &str) -> bool {
        self.rejected.contains(&name)
    }
}

fn example(name: &str) -> &'static str {
    match name {
        TTL => "60",
        CAPACITY => "10_000",
        MAX_BYTES => "\"64MiB\"",
        NAME => "\"users::by_id\"",
        VERSION => "2",
        IGNORE => "[self]",
        KEY => "(user.id, page)",
        CACHE_ERR | CACHE_NONE => "true",
        BACKEND => "\"memory\"",
        REFRESH => "\"background\"",
        REFRESH_AFTER => "\"30s\"",
        LOCK => "\"redis\"",
        LOCK_TTL => "\"30s\"",
        NEAR => "10_000",
        NEAR_TTL => "\"5s\"",
        CRATE => "\"cachemacro_runtime\"",
        _ => "...",
    }
}

fn unknown_option_message(name: &str) -> String {
    let valid = ALL
        .iter()
        .map(|option| format!("`{option}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(name, ALL) {
        Some(option) => {
            format!("unknown option `{name}`: did you mean `{option}`?\nthe options are {valid}")
        }
        None => format!("unknown option `{name}`: the options are {valid}"),
    }
}

/// The candidate closest to a misspelt `name`, if one is close enough to be what was meant.
pub(crate) fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .min()
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance; names are short, so the quadratic table is fine.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

pub(crate) fn literal(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

/// The longest duration any option takes, in milliseconds: 100,000 days (about 274 years). Redis
/// refuses an expiry (`SET ... PX`) that, added to the current time in milliseconds, overflows an
/// `i64`, and then every call of the function would compute again; this bound is far below that,
/// and the same for every duration option and backend.
pub(crate) const MAX_DURATION_MS: u64 = 100_000 * 86_400_000;

/// The error for a duration above [`MAX_DURATION_MS`] (or one that overflows while being read).
fn too_long(span: Span, name: &str) -> syn::Error {
    let advice = match name {
        TTL => "; to keep entries forever, leave `ttl` out",
        _ => "",
    };
    syn::Error::new(
        span,
        format!("`{name}` must be at most 100,000 days (\"100000d\"){advice}"),
    )
}

/// `ttl`, `refresh_after`, `lock_ttl` and `near_ttl`: whole seconds, or a string with a unit; in
/// milliseconds, from 1 to [`MAX_DURATION_MS`].
fn parse_duration_option(value: &Expr, name: &str) -> syn::Result<u64> {
    let span = value.span();
    let ms = match literal(value) {
        Some(Lit::Int(int)) => {
            // Only digits too many for a u64 fail to parse.
            let seconds: u64 = int.base10_parse().map_err(|_| too_long(span, name))?;
            if seconds == 0 {
                let advice = match name {
                    TTL => {
                        "`ttl` must be at least 1 second; to keep entries forever, leave `ttl` out"
                    }
                    LOCK_TTL => LOCK_TTL_ZERO,
                    NEAR_TTL => {
                        "`near_ttl` must be at least 1 second; use a string for less, as in \"500ms\""
                    }
                    _ => {
                        "`refresh_after` must be at least 1 second; use a string for less, as in \"500ms\""
                    }
                };
                return Err(syn::Error::new(span, advice));
            }
            seconds
                .checked_mul(1000)
                .ok_or_else(|| too_long(span, name))?
        }
        Some(Lit::Str(text)) => match parse_duration(&text.value()) {
            Ok(0) if name == LOCK_TTL => return Err(syn::Error::new(span, LOCK_TTL_ZERO)),
            Ok(0) => {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "`{name} = {:?}` is not a duration: it must be longer than zero; to keep entries forever, leave it out",
                        text.value()
                    ),
                ));
            }
            Ok(ms) => ms,
            Err(DurationError::TooLong) => return Err(too_long(span, name)),
            Err(DurationError::Malformed(why)) => {
                return Err(syn::Error::new(
                    span,
                    format!("`{name} = {:?}` is not a duration: {why}", text.value()),
                ));
            }
        },
        _ => {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{name}` takes whole seconds (`{name} = 60`) or a string with a unit (`{name} = \"250ms\"`, \"90s\", \"5m\", \"1h\", \"1d\")"
                ),
            ));
        }
    };
    if ms > MAX_DURATION_MS {
        return Err(too_long(span, name));
    }
    Ok(ms)
}

/// A zero `lock_ttl`, whichever way it is written.
const LOCK_TTL_ZERO: &str = "`lock_ttl` must be longer than zero: it is how long the Redis lock outlives a crashed holder before another process takes over; leave it out for the default, the runtime's `DEFAULT_LOCK_TTL`";

/// A string-choice option (`backend`, `refresh`, `lock`): its values and how to list them.
struct Choices<T: 'static> {
    option: &'static str,
    /// What a value is called in "no {noun} `x`".
    noun: &'static str,
    values: &'static [(&'static str, T)],
    /// The sentence that lists the values, with what each one does.
    listed: &'static str,
}

const BACKEND_CHOICES: Choices<Backend> = Choices {
    option: BACKEND,
    noun: "backend",
    values: &[("memory", Backend::Memory), ("redis", Backend::Redis)],
    listed: "the backends are \"memory\" (in-process, the default) and \"redis\"",
};

const REFRESH_CHOICES: Choices<Refresh> = Choices {
    option: REFRESH,
    noun: "refresh mode",
    values: &[("background", Refresh::Background), ("none", Refresh::None)],
    listed: "the choices are \"background\" (serve stale hits and recompute them in a pool) and \"none\" (the default)",
};

const LOCK_CHOICES: Choices<Lock> = Choices {
    option: LOCK,
    noun: "lock",
    values: &[
        ("redis", Lock::Redis),
        ("process", Lock::Process),
        ("none", Lock::None),
    ],
    listed: "the locks are \"redis\" (one caller in all processes computes a missing entry; the default with `backend = \"redis\"`), \"process\" (one caller per process; the default in process) and \"none\" (every caller that misses computes)",
};

/// Parses a string-choice option. A value that is not a string, or not one of the choices, is
/// reported on the value with the list of choices, and a close misspelling with the one meant.
fn parse_choice<T: Copy>(value: &Expr, choices: &Choices<T>) -> syn::Result<T> {
    let Some(Lit::Str(text)) = literal(value) else {
        return Err(syn::Error::new(
            value.span(),
            format!("`{}` takes a string: {}", choices.option, choices.listed),
        ));
    };
    let written = text.value();
    if let Some((_, choice)) = choices.values.iter().find(|(name, _)| *name == written) {
        return Ok(*choice);
    }
    let names: Vec<&str> = choices.values.iter().map(|(name, _)| *name).collect();
    let (noun, listed) = (choices.noun, choices.listed);
    let message = match closest(&written, &names) {
        Some(meant) => format!("no {noun} `{written}`: did you mean \"{meant}\"?\n{listed}"),
        None => format!("no {noun} `{written}`: {listed}"),
    };
    Err(syn::Error::new(value.span(), message))
}

/// Splits `"<digits><unit>"` (digits may hold `_`) into the digits, without the underscores, and
/// the unit as written; `None` without a digit. Durations and sizes are both written this way.
pub(crate) fn amount_and_unit(text: &str) -> Option<(String, &str)> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    (!digits.is_empty()).then_some((digits, unit))
}

/// Why a duration string was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// Not digits and a unit; the advice.
    Malformed(String),
    /// More milliseconds than a u64 holds (so above [`MAX_DURATION_MS`] as well).
    TooLong,
}

/// Parses `"<digits><unit>"` with the unit one of ms, s, m, h, d, into milliseconds (zero
/// included: each option says why it cannot be zero; the caller bounds the length).
pub(crate) fn parse_duration(text: &str) -> Result<u64, DurationError> {
    const FORMAT: &str =
        "write digits then a unit, one of ms, s, m, h, d, as in \"250ms\" or \"5m\"";
    let malformed = |why: String| Err(DurationError::Malformed(why));
    let Some((digits, unit)) = amount_and_unit(text) else {
        return malformed(FORMAT.into());
    };
    let per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "" => return malformed(format!("the unit is missing: {FORMAT}")),
        other => {
            return malformed(match unit_abbreviation(other.trim()) {
                Some(short) => format!(
                    "write it as \"{digits}{short}\", digits then a unit without a space (the \
                     units are ms, s, m, h, d)"
                ),
                None => format!("unknown unit `{}`: {FORMAT}", other.trim()),
            });
        }
    };
    // Only digits too many for a u64 fail to parse.
    let amount: u64 = digits.parse().map_err(|_| DurationError::TooLong)?;
    amount.checked_mul(per_unit).ok_or(DurationError::TooLong)
}

/// The unit a spelled-out or spaced unit (`" minutes"`, `"sec"`) stands for.
fn unit_abbreviation(unit: &str) -> Option<&'static str> {
    match unit {
        "ms" | "msec" | "millis" | "millisecond" | "milliseconds" => Some("ms"),
        "s" | "sec" | "secs" | "second" | "seconds" => Some("s"),
        "m" | "min" | "mins" | "minute" | "minutes" => Some("m"),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some("h"),
        "d" | "day" | "days" => Some("d"),
        _ => None,
    }
}

/// `capacity` and `near`: a whole number of entries, from 1 to `u32::MAX`.
fn parse_capacity(value: &Expr, name: &str) -> syn::Result<u64> {
    let span = value.span();
    let Some(Lit::Int(int)) = literal(value) else {
        return Err(syn::Error::new(
            span,
            format!("`{name}` takes a whole number of entries, as in `{name} = 10_000`"),
        ));
    };
    let out_of_range = || {
        syn::Error::new(
            span,
            format!("`{name}` is out of range: at most 4294967295 entries"),
        )
    };
    let capacity: u64 = int.base10_parse().map_err(|_| out_of_range())?;
    if capacity == 0 {
        let advice = match name {
            NEAR => "`near` must be at least 1; to go to Redis on every call, leave `near` out",
            _ => "`capacity` must be at least 1",
        };
        return Err(syn::Error::new(span, advice));
    }
    if capacity > u64::from(u32::MAX) {
        return Err(out_of_range());
    }
    Ok(capacity)
}

fn parse_name(value: &Expr) -> syn::Result<String> {
    let span = value.span();
    let Some(Lit::Str(text)) = literal(value) else {
        return Err(syn::Error::new(
            span,
            "`name` takes a string, as in `name = \"users::by_id\"`",
        ));
    };
    let name = text.value();
    if name.trim().is_empty() {
        return Err(syn::Error::new(span, "`name` must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(syn::Error::new(
            span,
            "`name` must not contain control characters",
        ));
    }
    Ok(name)
}

fn parse_version(value: &Expr) -> syn::Result<u32> {
    let span = value.span();
    let Some(Lit::Int(int)) = literal(value) else {
        return Err(syn::Error::new(
            span,
            "`version` takes a whole number, as in `version = 2`",
        ));
    };
    int.base10_parse()
        .map_err(|_| syn::Error::new(span, "`version` is out of range: it must fit in a u32"))
}

fn parse_bool(value: &Expr, name: &str) -> syn::Result<bool> {
    match literal(value) {
        Some(Lit::Bool(flag)) => Ok(flag.value),
        _ => Err(syn::Error::new(
            value.span(),
            format!("`{name}` takes `true` or `false`"),
        )),
    }
}

fn parse_crate(value: &Expr) -> syn::Result<syn::Path> {
    let Some(Lit::Str(text)) = literal(value) else {
        return Err(syn::Error::new(
            value.span(),
            "`crate` takes the path of the runtime crate as a string, as in `crate = \"my_cache\"`",
        ));
    };
    let mut path: syn::Path = text.parse().map_err(|_| {
        syn::Error::new(
            value.span(),
            "`crate` must be a path, as in `crate = \"my_cache\"`",
        )
    })?;
    // A bare name means the dependency: make it absolute so a local module cannot shadow it.
    // `crate`, `self` and `super` are relative by nature (`::crate` is no path).
    let relative = ["crate", "self", "super"];
    if path.leading_colon.is_none()
        && path.segments.len() == 1
        && !relative.iter().any(|name| path.segments[0].ident == name)
    {
        path.leading_colon = Some(Default::default());
    }
    Ok(path)
}

fn parse_ignore(value: &Expr, errors: &mut Errors) -> syn::Result<Vec<Ident>> {
    let Expr::Array(array) = value else {
        return Err(syn::Error::new(
            value.span(),
            "`ignore` takes a list of argument names, as in `ignore = [logger, self]`",
        ));
    };
    let mut names: Vec<Ident> = Vec::new();
    for element in &array.elems {
        const NOT_A_NAME: &str =
            "`ignore` takes argument names, as in `ignore = [logger, self]`; this is not a name";
        let Expr::Path(path) = element else {
            errors.spanned(element, NOT_A_NAME);
            continue;
        };
        let Some(ident) = path.path.get_ident() else {
            errors.spanned(element, NOT_A_NAME);
            continue;
        };
        if names.iter().any(|seen| seen == ident) {
            errors.spanned(
                ident,
                format_args!("`{ident}` is ignored twice: list each argument once"),
            );
            continue;
        }
        names.push(ident.clone());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("10").is_err());
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::TooLong)
        );
    }

    #[test]
    fn spelled_out_units_are_rewritten() {
        let advice = |text: &str| match parse_duration(text) {
            Err(DurationError::Malformed(why)) => why,
            other => panic!("{text:?} gave {other:?}"),
        };
        assert!(advice("5 minutes").starts_with("write it as \"5m\""));
        assert!(advice("90sec").starts_with("write it as \"90s\""));
        assert!(advice("2 h").starts_with("write it as \"2h\""));
        assert!(advice("10x").starts_with("unknown unit `x`"));
    }

    #[test]
    fn durations_are_at_most_100_000_days() {
        let parse = |text: &str| {
            let value: Expr = syn::parse_str(text).unwrap();
            parse_duration_option(&value, TTL).map_err(|error| error.to_string())
        };
        assert_eq!(parse("\"100000d\""), Ok(MAX_DURATION_MS));
        assert_eq!(parse("8_640_000_000"), Ok(MAX_DURATION_MS));
        let too_long = Err(
            "`ttl` must be at most 100,000 days (\"100000d\"); to keep entries forever, leave `ttl` out"
                .to_string(),
        );
        // Each of these passed before, and every Redis write of its entries failed.
        assert_eq!(parse("\"100001d\""), too_long);
        assert_eq!(parse("\"18446744073709551615ms\""), too_long);
        assert_eq!(parse("8_640_000_001"), too_long);
        assert_eq!(parse("18446744073709551"), too_long);
        // Beyond a u64, the same message.
        assert_eq!(parse("18446744073709552"), too_long);
        assert_eq!(parse("99_999_999_999_999_999_999"), too_long);
        assert_eq!(parse("\"99999999999999999999d\""), too_long);
        let value: Expr = syn::parse_str("\"200000d\"").unwrap();
        let error = parse_duration_option(&value, LOCK_TTL).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`lock_ttl` must be at most 100,000 days (\"100000d\")"
        );
    }

    #[test]
    fn crate_paths() {
        let path = |text: &str| {
            let value: Expr = syn::parse_str(&format!("{text:?}")).unwrap();
            let path = parse_crate(&value).unwrap();
            quote::quote!(#path).to_string().replace(' ', "")
        };
        assert_eq!(path("cache"), "::cache");
        assert_eq!(path("::cache"), "::cache");
        assert_eq!(path("deps::cache"), "deps::cache");
        // Written as they are: `::crate` and the like are no paths (E0433).
        assert_eq!(path("crate"), "crate");
        assert_eq!(path("self"), "self");
        assert_eq!(path("super"), "super");
        assert_eq!(path("crate::deps::cache"), "crate::deps::cache");
        assert_eq!(path("super::cache"), "super::cache");
    }

    #[test]
    fn close_names_are_suggested() {
        assert!(unknown_option_message("tll").contains("did you mean `ttl`"));
        assert!(unknown_option_message("capacty").contains("did you mean `capacity`"));
        assert!(!unknown_option_message("zzzzzz").contains("did you mean"));
        assert!(unknown_option_message("lock_tll").contains("did you mean `lock_ttl`"));
    }

    #[test]
    fn close_lock_names_are_suggested() {
        let message = |text: &str| {
            let value: Expr = syn::parse_str(&format!("{text:?}")).unwrap();
            parse_choice(&value, &LOCK_CHOICES).unwrap_err().to_string()
        };
        assert!(message("rediss").contains("did you mean \"redis\""));
        assert!(message("proces").contains("did you mean \"process\""));
        assert!(!message("distributed").contains("did you mean"));
        let none: Expr = syn::parse_str("\"none\"").unwrap();
        assert_eq!(parse_choice(&none, &LOCK_CHOICES).unwrap(), Lock::None);
    }
}
