//! Checks a `key = <expression>` against the function: the names it uses must be arguments (or
//! bound inside the expression), and it cannot `.await`.
//!
//! The rule for names, documented with the option: a single lowercase name (`usr`, `self`) that is
//! neither an argument nor bound by a pattern in the expression (a closure's parameter, a `let`,
//! a `match` arm) is reported, with the closest argument suggested. Constants (`PAGE_SIZE`),
//! types, paths with `::` and the function of a call (`normalize(query)`) are left to the
//! compiler, which knows what is in scope; so are names inside macro calls.

use std::collections::BTreeSet;

use syn::visit::Visit;
use syn::{Expr, Ident};

use crate::attr::{closest, edit_distance};
use crate::errors::Errors;
use crate::func::Func;

pub(crate) fn check(expr: &Expr, func: &Func, errors: &mut Errors) {
    let mut bound = Bound::default();
    bound.visit_expr(expr);
    let mut names = Names {
        func,
        bound: &bound.0,
        errors,
    };
    names.visit_expr(expr);
}

/// Every name a pattern in the expression binds, wherever it is in scope. Looser than Rust's
/// scopes, so a name is never reported that the compiler would accept.
#[derive(Default)]
struct Bound(BTreeSet<String>);

impl<'ast> Visit<'ast> for Bound {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.insert(pat.ident.to_string());
        syn::visit::visit_pat_ident(self, pat);
    }
}

struct Names<'a> {
    func: &'a Func,
    bound: &'a BTreeSet<String>,
    errors: &'a mut Errors,
}

impl Names<'_> {
    fn report(&mut self, ident: &Ident) {
        let function = self.func.name();
        let arguments: Vec<String> = self
            .func
            .receiver
            .iter()
            .map(|_| "self".to_string())
            .chain(self.func.args.iter().map(|arg| arg.ident.to_string()))
            .collect();
        let listed = if arguments.is_empty() {
            format!("`{function}` takes no arguments")
        } else {
            let quoted: Vec<String> = arguments.iter().map(|name| format!("`{name}`")).collect();
            format!("the arguments are {}", quoted.join(", "))
        };
        let message = if ident == "self" {
            format!("`key` uses `self`, and `{function}` takes no `self`: {listed}")
        } else {
            let candidates: Vec<&str> = arguments.iter().map(String::as_str).collect();
            let name = ident.to_string();
            // A short name is close to every short argument: suggest only what shares a letter.
            let meant = closest(&name, &candidates)
                .filter(|meant| edit_distance(&name, meant) < name.chars().count());
            match meant {
                Some(meant) => format!(
                    "`key` uses `{ident}`, which is not an argument of `{function}`: did you mean `{meant}`?\n{listed}"
                ),
                None => format!(
                    "`key` uses `{ident}`, which is not an argument of `{function}`: {listed}"
                ),
            }
        };
        self.errors.spanned(ident, message);
    }

    fn is_argument(&self, ident: &Ident) -> bool {
        if ident == "self" {
            return self.func.receiver.is_some();
        }
        self.func.args.iter().any(|arg| arg.ident == *ident)
    }
}

impl<'ast> Visit<'ast> for Names<'_> {
    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        if path.qself.is_none()
            && let Some(ident) = path.path.get_ident()
        {
            let name = ident.to_string();
            let lowercase = name.starts_with(|c: char| c.is_lowercase() || c == '_');
            if lowercase && !self.is_argument(ident) && !self.bound.contains(&name) {
                self.report(ident);
            }
        }
        syn::visit::visit_expr_path(self, path);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        // A called name is a function (or a closure bound in the expression): the compiler judges
        // it. Its arguments are checked.
        if !matches!(&*call.func, Expr::Path(_)) {
            self.visit_expr(&call.func);
        }
        for arg in &call.args {
            self.visit_expr(arg);
        }
    }

    fn visit_expr_await(&mut self, expr: &'ast syn::ExprAwait) {
        self.errors.spanned(
            expr.await_token,
            "the key is computed before the call, outside of any `async` block, so a `key` expression cannot `.await`: key on the arguments themselves",
        );
        syn::visit::visit_expr_await(self, expr);
    }
}
