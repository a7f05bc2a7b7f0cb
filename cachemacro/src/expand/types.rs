//! What the expansion reads off the function's types.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Type;

pub(super) use crate::spans::type_name_span;

/// The `Ok` and error types of a `Result` return type: as written in `Result<T, E>`, or, for an
/// alias that does not name both (`io::Result<T>`, whose parameters may be in any order), the
/// runtime's projections of the return type, spanned on it.
pub(super) fn result_parts(ty: &Type, krate: &TokenStream) -> (TokenStream, TokenStream) {
    if let Type::Path(path) = ty
        && let Some(syn::PathArguments::AngleBracketed(args)) =
            path.path.segments.last().map(|last| &last.arguments)
    {
        let types: Vec<&Type> = args
            .args
            .iter()
            .filter_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect();
        if let [ok, err] = types[..] {
            return (quote!(#ok), quote!(#err));
        }
    }
    let span = type_name_span(ty);
    (
        quote_spanned!(span=> <#ty as #krate::__private::ResultParts>::Ok),
        quote_spanned!(span=> <#ty as #krate::__private::ResultParts>::Err),
    )
}

/// How many `&` wrap a type: 1 for `&str`, 2 for `&&str`.
pub(super) fn reference_depth(ty: &Type) -> usize {
    match ty {
        Type::Reference(reference) => 1 + reference_depth(&reference.elem),
        Type::Paren(inner) => reference_depth(&inner.elem),
        Type::Group(inner) => reference_depth(&inner.elem),
        _ => 0,
    }
}
