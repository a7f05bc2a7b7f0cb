//! What the expansion reads off the function's types.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Type;
use syn::spanned::Spanned;

/// The span of a type's name: `HashMap` in `&std::collections::HashMap<K, V>`. A span covers one
/// token on stable Rust, and the name is the token that says what the type is.
pub(super) fn type_name_span(ty: &Type) -> Span {
    match ty {
        Type::Path(path) => match path.path.segments.last() {
            Some(last) => last.ident.span(),
            None => ty.span(),
        },
        Type::Reference(reference) => type_name_span(&reference.elem),
        Type::Paren(inner) => type_name_span(&inner.elem),
        Type::Group(inner) => type_name_span(&inner.elem),
        _ => ty.span(),
    }
}

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
