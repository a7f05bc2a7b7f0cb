//! Checks the options against each other and against the function: the mistakes that no single
//! option shows on its own.

use crate::attr::{Backend, Options, Refresh};
use crate::errors::Errors;
use crate::func::{Func, ResultKind};

pub(crate) fn check(options: &Options, func: &Func, errors: &mut Errors) {
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

    if let Some(set) = options.capacity.get()
        && options.backend() == Backend::Redis
    {
        errors.at(
            set.key,
            "`capacity` bounds the in-process cache; with `backend = \"redis\"` Redis' own `maxmemory` policy bounds the entries: remove `capacity`",
        );
    }
}

fn check_refresh(options: &Options, errors: &mut Errors) {
    let background = options.refresh.value() == Some(&Refresh::Background);
    if let Some(set) = options.refresh.get()
        && background
        && options.ttl.value().is_none()
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
