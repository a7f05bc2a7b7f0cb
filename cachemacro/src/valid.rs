//! Checks the options against each other and against the function: the mistakes that no single
//! option shows on its own.

use crate::attr::Options;
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
}
