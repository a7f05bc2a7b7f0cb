//! Checks the options against each other and against the function (the mistakes that no single
//! option shows on its own), and resolves them into the [`Config`] that `expand` reads.

use crate::attr::Options;
use crate::config::{Backend, Config, Lock, Refresh};
use crate::errors::Errors;
use crate::func::{Func, ResultKind};
use crate::symbol::{BACKEND, LOCK, NEAR, REFRESH, TTL};

/// Reports every mistake in `errors` and returns the resolved configuration, which is meaningful
/// only when no mistake was found.
pub(crate) fn validate(options: &Options, func: &Func, errors: &mut Errors) -> Config {
    let config = Config::resolve(options, func);
    check(options, &config, func, errors);
    config
}

/// Checks the options as written; `config` holds their defaults (the backend, the lock).
fn check(options: &Options, config: &Config, func: &Func, errors: &mut Errors) {
    if let Some(key) = options.key.get() {
        crate::key_expr::check(&key.value, func, errors);
        if options.ignore.get().is_some() {
            errors.at(
                key.key,
                "`key` and `ignore` cannot be combined: with `key = ...` the key is the expression's value alone, and the arguments it does not use are already left out; remove `ignore`",
            );
        }
    }
    if let Some(ignore) = options.ignore.get() {
        for name in &ignore.value {
            let known = if name == "self" {
                func.receiver.is_some()
            } else {
                func.args.iter().any(|arg| arg.ident == *name)
            };
            if !known {
                let names: Vec<String> = func
                    .receiver
                    .iter()
                    .map(|_| "`self`".to_string())
                    .chain(func.args.iter().map(|arg| format!("`{}`", arg.ident)))
                    .collect();
                let listed = if names.is_empty() {
                    "the function takes no arguments".to_string()
                } else {
                    format!("the arguments are {}", names.join(", "))
                };
                errors.spanned(
                    name,
                    format_args!("`ignore` names `{name}`, which is not an argument: {listed}"),
                );
            }
        }
    }

    if let Some(set) = options.cache_err.get()
        && func.kind != ResultKind::Result
    {
        errors.at(
            set.key,
            "`cache_err` applies only to a function returning `Result`: remove it, or return a `Result`",
        );
    }
    if let Some(set) = options.cache_none.get()
        && func.kind != ResultKind::Option
    {
        errors.at(
            set.key,
            "`cache_none` applies only to a function returning `Option`: remove it, or return an `Option`",
        );
    }

    check_refresh(options, errors);
    check_lock(options, config, errors);
    check_near(options, config, errors);

    if let Some(set) = options.capacity.get()
        && config.backend == Backend::Redis
    {
        errors.at(
            set.key,
            "`capacity` bounds the in-process cache; with `backend = \"redis\"` Redis' own `maxmemory` policy bounds the entries: remove `capacity`",
        );
    }
    if let Some(set) = options.max_bytes.get()
        && config.backend == Backend::Redis
    {
        errors.at(
            set.key,
            "`max_bytes` bounds the in-process cache's memory; with `backend = \"redis\"` Redis' own `maxmemory` bounds it: remove `max_bytes` (and bound a near tier with `near`)",
        );
    }
}

fn check_near(options: &Options, config: &Config, errors: &mut Errors) {
    if let Some(set) = options.near.get()
        && config.backend == Backend::Memory
        && !options.rejected(BACKEND)
    {
        errors.at(
            set.key,
            "`near` keeps an in-process tier in front of Redis, and this function is already cached in process: remove `near`, or add `backend = \"redis\"`",
        );
        return;
    }
    let Some(near_ttl) = options.near_ttl.get() else {
        return;
    };
    if options.near.get().is_none() {
        // A refused `near` is reported on itself.
        if options.rejected(NEAR) {
            return;
        }
        errors.at(
            near_ttl.key,
            "`near_ttl` caps how long an entry stays in the near tier, which needs `near = N`: add `near`, or remove `near_ttl`",
        );
    } else if let Some(&ttl) = options.ttl.value()
        && near_ttl.value > ttl
    {
        errors.at(
            near_ttl.key,
            format_args!(
                "`near_ttl` ({} ms) is longer than `ttl` ({ttl} ms): a near entry never outlives its Redis entry; lower `near_ttl`, or remove it",
                near_ttl.value
            ),
        );
    }
}

fn check_refresh(options: &Options, errors: &mut Errors) {
    let background = options.refresh.value() == Some(&Refresh::Background);
    if let Some(set) = options.refresh.get()
        && background
        && options.ttl.value().is_none()
        // A refused `ttl` is reported on itself.
        && !options.rejected(TTL)
    {
        errors.at(
            set.key,
            "`refresh = \"background\"` needs a `ttl`: an entry is refreshed once it is older than `refresh_after`, which must be shorter than `ttl`; add `ttl = ...`",
        );
    }
    let Some(after) = options.refresh_after.get() else {
        return;
    };
    if !background {
        // A refused `refresh` (a misspelt "background") is reported on itself.
        if options.rejected(REFRESH) {
            return;
        }
        errors.at(
            after.key,
            "`refresh_after` applies only with `refresh = \"background\"`: add it, or remove `refresh_after`",
        );
    } else if let Some(&ttl) = options.ttl.value()
        && after.value >= ttl
    {
        errors.at(
            after.key,
            format_args!(
                "`refresh_after` ({} ms) must be shorter than `ttl` ({ttl} ms): an entry older than `ttl` is never served, so it could never be refreshed in the background",
                after.value
            ),
        );
    }
}

fn check_lock(options: &Options, config: &Config, errors: &mut Errors) {
    if let Some(set) = options.lock.get()
        && set.value == Lock::Redis
        && config.backend == Backend::Memory
        && !options.rejected(BACKEND)
    {
        errors.at(
            set.value_span,
            "`lock = \"redis\"` makes processes wait for each other through Redis, and this function's entries live in process memory: add `backend = \"redis\"`, or use `lock = \"process\"`",
        );
        // That is the mistake; a `lock_ttl` beside it is right for the lock that was meant.
        return;
    }
    let Some(ttl) = options.lock_ttl.get() else {
        return;
    };
    let lock = config.lock;
    // With a refused `backend` or `lock`, which lock was meant is not known.
    if lock == Lock::Redis || options.rejected(BACKEND) || options.rejected(LOCK) {
        return;
    }
    let why = match options.lock.value() {
        Some(_) => format!(
            "`lock_ttl` is the expiry of the Redis lock, and this function has `lock = \"{}\"`: remove `lock_ttl`, or use `lock = \"redis\"`",
            lock.as_str()
        ),
        None => "`lock_ttl` is the expiry of the Redis lock, which needs `backend = \"redis\"`: this function is cached in process; remove `lock_ttl`".to_string(),
    };
    errors.at(ttl.key, why);
}
