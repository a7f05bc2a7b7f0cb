//! Reads the memoized function's signature into [`Func`], rejecting what cannot be memoized, each on
//! the offending token.

use syn::visit::Visit;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::errors::Errors;

/// How the return type decides what is cached.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ResultKind {
    Result,
    Option,
    Other,
}

/// One named argument.
pub(crate) struct Arg {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

/// A function that can be memoized.
pub(crate) struct Func {
    pub(crate) item: ItemFn,
    /// The `&self` receiver of a method, as written.
    pub(crate) receiver: Option<syn::Receiver>,
    pub(crate) args: Vec<Arg>,
    pub(crate) ret: Type,
    pub(crate) kind: ResultKind,
}

impl Func {
    pub(crate) fn name(&self) -> &Ident {
        &self.item.sig.ident
    }
}

/// Checks `item` and reads it; `None` when something in the signature cannot be memoized.
pub(crate) fn analyze(item: ItemFn, errors: &mut Errors) -> Option<Func> {
    let sig = &item.sig;
    let errors_before = errors.count();

    // Each offender is reported on all of its tokens (`&mut T`, `extern "C"`, `T: Clone`).
    if let Some(constness) = &sig.constness {
        errors.spanned(
            constness,
            "a `const fn` cannot be memoized: a cache lookup is not a constant expression",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety,
            "an `unsafe fn` cannot be memoized: wrap the unsafe call in a safe function and memoize that",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi,
            "an `extern` fn cannot be memoized: memoize a Rust function and call it from the extern one",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "a variadic function cannot be memoized");
    }
    for param in &sig.generics.params {
        match param {
            syn::GenericParam::Lifetime(_) => {}
            _ => errors.spanned(
                param,
                "a generic function cannot be memoized: each function has one cache, which cannot \
                 keep instantiations apart; memoize a non-generic function per concrete type",
            ),
        }
    }

    let mut receiver = None;
    let mut args = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(recv) => {
                if recv.colon_token.is_some() {
                    errors.spanned(
                        recv,
                        "only `&self` receivers can be memoized: write `&self`",
                    );
                } else if recv.reference.is_none() {
                    errors.spanned(
                        recv.self_token,
                        "`self` by value cannot be memoized: take `&self`",
                    );
                } else if recv.mutability.is_some() {
                    errors.spanned(recv,
                        "`&mut self` cannot be memoized: a cached call would skip the mutation; take `&self`",
                    );
                } else {
                    receiver = Some(recv.clone());
                }
            }
            FnArg::Typed(typed) => {
                if let Some(cfg) = typed.attrs.iter().find(|attr| is_cfg(attr)) {
                    errors.spanned(cfg,
                        "an argument under `#[cfg]` cannot be memoized: the key and the companions take every argument; put the `#[cfg]` on the whole function (one version of it per configuration)",
                    );
                    continue;
                }
                let ident = match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        Some(pat.ident.clone())
                    }
                    _ => None,
                };
                let Some(ident) = ident else {
                    errors.spanned(&typed.pat,
                        "a pattern argument cannot be memoized: give the argument a name and destructure it in the body",
                    );
                    continue;
                };
                if let Some(message) = unsupported_arg_type(&typed.ty) {
                    errors.spanned(&typed.ty, message);
                    continue;
                }
                if let Some(nested) = impl_trait_in(&typed.ty) {
                    errors.spanned(nested, IMPL_TRAIT_ARGUMENT);
                    continue;
                }
                args.push(Arg {
                    ident,
                    ty: (*typed.ty).clone(),
                });
            }
        }
    }

    let ret = match &sig.output {
        ReturnType::Default => {
            errors.at(
                sig.paren_token.span.close(),
                "a function without a return value has nothing to cache: return the value to memoize",
            );
            None
        }
        ReturnType::Type(_, ty) => {
            if let Some(message) = unsupported_return_type(ty) {
                errors.spanned(ty, message);
                None
            } else {
                Some((**ty).clone())
            }
        }
    };

    let ret = ret?;
    if errors.count() > errors_before {
        return None;
    }
    let kind = result_kind(&ret);
    Some(Func {
        item,
        receiver,
        args,
        ret,
        kind,
    })
}

const IMPL_TRAIT_ARGUMENT: &str = "an `impl Trait` argument makes the function generic, which cannot be memoized: take a concrete type";

/// `#[cfg]`, or a `#[cfg_attr]` that may make one: the argument may not exist in the build.
/// (Another `#[cfg_attr]`, such as one that allows a lint, is harmless.)
fn is_cfg(attr: &syn::Attribute) -> bool {
    fn mentions_cfg(tokens: proc_macro2::TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "cfg",
            proc_macro2::TokenTree::Group(group) => mentions_cfg(group.stream()),
            _ => false,
        })
    }
    let path = attr.path();
    path.is_ident("cfg")
        || (path.is_ident("cfg_attr")
            && matches!(&attr.meta, syn::Meta::List(list) if mentions_cfg(list.tokens.clone())))
}

/// The first `impl Trait` inside an argument's type (`Vec<impl Display>`), reported on itself.
fn impl_trait_in(ty: &Type) -> Option<&syn::TypeImplTrait> {
    #[derive(Default)]
    struct Find<'ast>(Option<&'ast syn::TypeImplTrait>);
    impl<'ast> Visit<'ast> for Find<'ast> {
        fn visit_type_impl_trait(&mut self, found: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert(found);
        }
    }
    let mut find = Find::default();
    find.visit_type(ty);
    find.0
}

fn unsupported_arg_type(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => Some(
            "a `&mut` argument cannot be memoized: a cached call would skip the mutation; take `&` or a value",
        ),
        Type::ImplTrait(_) => Some(IMPL_TRAIT_ARGUMENT),
        Type::Reference(reference) => unsupported_arg_type(&reference.elem),
        Type::Paren(inner) => unsupported_arg_type(&inner.elem),
        Type::Group(inner) => unsupported_arg_type(&inner.elem),
        _ => None,
    }
}

fn unsupported_return_type(ty: &Type) -> Option<&'static str> {
    if let Type::Tuple(tuple) = ty
        && tuple.elems.is_empty()
    {
        return Some("a function returning `()` has nothing to cache: return the value to memoize");
    }
    let mut finder = ReturnTypeCheck::default();
    finder.visit_type(ty);
    if finder.impl_trait {
        return Some(
            "a cached value needs a nameable type: return a concrete type instead of `impl Trait`",
        );
    }
    if finder.self_type {
        return Some(
            "a cache is a `static`, which cannot name `Self`: write the type's name instead of `Self`",
        );
    }
    if finder.borrowed {
        return Some(
            "a cached value outlives the call, so it cannot borrow: return an owned type (`String`, `Vec<T>`, `Arc<T>`) or a `&'static` reference",
        );
    }
    None
}

#[derive(Default)]
struct ReturnTypeCheck {
    impl_trait: bool,
    self_type: bool,
    borrowed: bool,
    /// The lifetimes bound by the `for<'a>` binders around the type being visited: they belong to
    /// the function pointer or trait, not to the call.
    bound: Vec<syn::Ident>,
    /// Inside the parameters or return type of a function pointer (`fn(&str) -> usize`) or of
    /// `Fn(..)` sugar, where an elided lifetime is the pointer's or the trait's own.
    in_signature: usize,
}

impl ReturnTypeCheck {
    /// An elided lifetime (`&T`, `'_`) borrows from the call unless it is a signature's own.
    fn elided(&mut self) {
        if self.in_signature == 0 {
            self.borrowed = true;
        }
    }

    /// Visits what `visit` visits with the lifetimes of `binder` bound.
    fn with_bound(&mut self, binder: Option<&syn::BoundLifetimes>, visit: impl FnOnce(&mut Self)) {
        let before = self.bound.len();
        let names = binder.into_iter().flat_map(|binder| &binder.lifetimes);
        for param in names {
            if let syn::GenericParam::Lifetime(param) = param {
                self.bound.push(param.lifetime.ident.clone());
            }
        }
        visit(self);
        self.bound.truncate(before);
    }
}

impl<'ast> Visit<'ast> for ReturnTypeCheck {
    fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
        self.impl_trait = true;
    }

    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        // A named lifetime is judged by `visit_lifetime`.
        if reference.lifetime.is_none() {
            self.elided();
        }
        syn::visit::visit_type_reference(self, reference);
    }

    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        if lifetime.ident == "_" {
            self.elided();
        } else if lifetime.ident != "static" && !self.bound.contains(&lifetime.ident) {
            self.borrowed = true;
        }
    }

    /// `fn(&str) -> usize`, `for<'a> fn(&'a str) -> &'a str`.
    fn visit_type_bare_fn(&mut self, pointer: &'ast syn::TypeBareFn) {
        self.with_bound(pointer.lifetimes.as_ref(), |this| {
            this.in_signature += 1;
            for input in &pointer.inputs {
                this.visit_type(&input.ty);
            }
            this.visit_return_type(&pointer.output);
            this.in_signature -= 1;
        });
    }

    /// `dyn for<'a> Trait<'a>`.
    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        self.with_bound(bound.lifetimes.as_ref(), |this| {
            this.visit_path(&bound.path)
        });
    }

    /// The `(&str) -> bool` of `Fn(&str) -> bool`.
    fn visit_parenthesized_generic_arguments(
        &mut self,
        arguments: &'ast syn::ParenthesizedGenericArguments,
    ) {
        self.in_signature += 1;
        syn::visit::visit_parenthesized_generic_arguments(self, arguments);
        self.in_signature -= 1;
    }

    fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
        if segment.ident == "Self" {
            self.self_type = true;
        }
        syn::visit::visit_path_segment(self, segment);
    }
}

/// `Result` and `Option` are recognised by the last path segment, so `io::Result<T>` and
/// `std::option::Option<T>` count.
fn result_kind(ty: &Type) -> ResultKind {
    match ty {
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(last) if last.ident == "Result" => ResultKind::Result,
            Some(last) if last.ident == "Option" => ResultKind::Option,
            _ => ResultKind::Other,
        },
        Type::Paren(inner) => result_kind(&inner.elem),
        Type::Group(inner) => result_kind(&inner.elem),
        _ => ResultKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn borrows(ty: &str) -> bool {
        let ty: Type = syn::parse_str(ty).unwrap();
        let mut check = ReturnTypeCheck::default();
        check.visit_type(&ty);
        check.borrowed
    }

    #[test]
    fn lifetimes_of_signatures_are_their_own() {
        for owned in [
            "fn(&str) -> usize",
            "fn(&str) -> &str",
            "fn(&'_ str) -> bool",
            "for<'a> fn(&'a str) -> &'a str",
            "Arc<dyn Fn(&str) -> bool + Send + Sync>",
            "Box<dyn FnMut(&mut Vec<&str>) -> Option<&str>>",
            "Box<dyn for<'a> Fn(&'a str) -> Cow<'a, str> + Send>",
            "Box<dyn for<'a> Parse<'a> + 'static>",
            "Vec<fn(&[u8]) -> Result<&str, Error>>",
            "&'static dyn Fn(&str) -> &str",
            "(fn(&str), Arc<str>)",
        ] {
            assert!(!borrows(owned), "{owned} was taken for a borrow");
        }
    }

    #[test]
    fn lifetimes_of_the_call_are_borrows() {
        for borrowed in [
            "&str",
            "&'_ str",
            "&'a str",
            "Cow<'a, str>",
            "Cow<'_, str>",
            "fn(&'a str) -> usize",
            "fn(&str) -> Cow<'a, str>",
            "Box<dyn Fn(&str) -> bool + '_>",
            "Box<dyn Fn(&str) -> bool + 'a>",
            "Box<dyn for<'b> Fn(&'b str) -> &'a str>",
            "Box<dyn Fn(Wrapper<'a>)>",
            "(fn(&str), &str)",
            "for<'a> fn(&'a str) -> &'b str",
        ] {
            assert!(borrows(borrowed), "{borrowed} was not taken for a borrow");
        }
    }
}
