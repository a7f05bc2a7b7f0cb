//! The key function, which writes a call's key into the cache's hasher, and its call. Every
//! companion calls it, so the key is computed one way.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::Parts;
use super::types::{reference_depth, type_name_span};
use crate::config::{Backend, Config};
use crate::func::Func;
use crate::spans::located_at;

/// The call of the key function with the borrowed arguments it takes.
pub(super) fn key_call(
    config: &Config,
    func: &Func,
    this: &Option<TokenStream>,
    key_fn: &Ident,
) -> TokenStream {
    let self_arg = config.key.takes_self.then(|| quote!(self,));
    let args = config.key.args.iter().map(|&i| &func.args[i].ident);
    quote!(#this #key_fn(#self_arg #(&#args,)* __cachemacro_cache.key_hasher()))
}

/// The key function: writes the key's parts into the cache's hasher. Every companion calls it, so
/// the key is computed one way.
pub(super) fn key_function(parts: &Parts<'_>, key_fn: &Ident) -> TokenStream {
    let Parts {
        config,
        func,
        krate,
        companion_attrs,
        ..
    } = parts;
    let key = &config.key;
    let generics = &func.item.sig.generics;
    let where_clause = &generics.where_clause;
    let args: Vec<_> = key.args.iter().map(|&i| &func.args[i]).collect();
    let params = args.iter().map(|arg| {
        let (ident, ty) = (&arg.ident, &arg.ty);
        quote!(#ident: &#ty)
    });
    let receiver = func
        .receiver
        .as_ref()
        .filter(|_| key.takes_self)
        .map(|recv| quote!(#recv,));
    let out = Ident::new("__cachemacro_out", Span::call_site());
    let writes: Vec<TokenStream> = match &key.expr {
        Some(expr) => vec![key_expr_write(krate, expr, &out)],
        None => args.iter().map(|arg| {
            // The argument carries its type's span, so a type that cannot be part of a key is
            // reported on the type, not on the argument's name.
            let span = type_name_span(&arg.ty);
            let ident = located_at(&arg.ident, span);
            let out = located_at(&out, span);
            // `&T` keys as `T`: write the referent, so an error names `T`, the type to give a key.
            let derefs = (0..reference_depth(&arg.ty)).map(|_| quote_spanned!(span=> *));
            quote_spanned!(span=> #krate::__private::KeyArg::write_arg(#(#derefs)* #ident, &mut #out);)
        }).collect(),
    };
    let self_write = match (&func.receiver, key.takes_self && key.expr.is_none()) {
        (Some(recv), true) => {
            let out = located_at(&out, recv.self_token.span);
            Some(
                quote_spanned!(recv.self_token.span=> #krate::__private::KeySelf::write_self(self, &mut #out);),
            )
        }
        _ => None,
    };
    // The hasher of the function's backend, named so that the function is not generic.
    let hasher = match config.backend {
        Backend::Memory => quote!(#krate::key::LocalHasher<'_>),
        Backend::Redis => quote!(#krate::key::StableHasher),
    };
    let allow = allowed_lints(key, &args);
    quote! {
        #(#companion_attrs)*
        // Inlined into `f`'s hit in optimized builds; an ordinary function in debug builds,
        // compiled once (not generic, and not `#[inline]`, whose code every caller's unit and
        // the crate's metadata would carry).
        #[cfg_attr(not(debug_assertions), inline(always))]
        #allow
        fn #key_fn #generics (
            #receiver #(#params,)*
            mut __cachemacro_out: #hasher,
        ) -> ::core::primitive::u128 #where_clause {
            #self_write
            #(#writes)*
            #krate::key::KeyHasher::finish(&__cachemacro_out)
        }
    }
}

/// The lints the key function can trip, allowed only where it can: each attribute is compiled
/// at every build of the user's crate (callgrind: the three lints always allowed cost 23 million
/// instructions of the 200-function crate's touch rebuild, 2%). An argument out of `key = ...`
/// goes unused; `&String`, `&Vec<T>`, `&PathBuf` and `&Cow<T>` parameters are `ptr_arg`; more
/// than 7 parameters are `too_many_arguments`.
fn allowed_lints(key: &crate::config::Key, args: &[&crate::func::Arg]) -> Option<TokenStream> {
    let unused = key.expr.is_some().then(|| quote!(unused_variables,));
    let owned_buffer = |ty: &syn::Type| match ty {
        syn::Type::Path(path) => path.path.segments.last().is_some_and(|last| {
            ["String", "Vec", "PathBuf", "Cow"]
                .iter()
                .any(|name| last.ident == name)
        }),
        _ => false,
    };
    let ptr_arg = args
        .iter()
        .any(|arg| owned_buffer(&arg.ty))
        .then(|| quote!(clippy::ptr_arg,));
    // `self`, the arguments in the key and the hasher: one more than `f` takes, so past clippy's
    // default bound of 7 when `f` is at it (above it, `f` trips the lint too, and the user's
    // `allow` on `f` is passed on here).
    let params = usize::from(key.takes_self) + args.len() + 1;
    let too_many = (params > 7).then(|| quote!(clippy::too_many_arguments,));
    (unused.is_some() || ptr_arg.is_some() || too_many.is_some())
        .then(|| quote!(#[allow(#unused #ptr_arg #too_many)]))
}

/// Writes the value of `key = <expr>`. Its arguments are borrowed (`x: T` is a `&T` there), as the
/// key function takes them; the write is spanned on the expression, so a value without a key is
/// reported there, with `KeyExpr`'s advice.
fn key_expr_write(krate: &TokenStream, expr: &syn::Expr, out: &Ident) -> TokenStream {
    let span = expr.span();
    let out = located_at(out, span);
    quote_spanned!(span=> #krate::__private::KeyExpr::write_expr(&(#expr), &mut #out);)
}
