//! What the expansion reads off the function's types.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::Type;

pub(super) use crate::spans::type_name_span;

/// The `Ok` and error types of a `Result` return type: as written in `Result<T, E>`, or, for an
/// alias that does not name both (`io::Result<T>`, whose parameters may be in any order), the
/// runtime's projections of the return type, spanned on it.
pub(super) fn result_parts(ty: &Type, krate: &TokenStream) -> (TokenStream, TokenStream) {
    if let Some((ok, err)) = written_parts(ty) {
        return (quote!(#ok), quote!(#err));
    }
    // The type located on its name too: a path (`crate::Result`) is reported there, as once.
    let span = type_name_span(ty);
    let ty = crate::spans::located(ty.to_token_stream(), span);
    (
        quote_spanned!(span=> <#ty as #krate::__private::ResultParts>::Ok),
        quote_spanned!(span=> <#ty as #krate::__private::ResultParts>::Err),
    )
}

/// The `T` and `E` of a return type written `Result<T, E>`.
fn written_parts(ty: &Type) -> Option<(&Type, &Type)> {
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
            return Some((ok, err));
        }
    }
    None
}

/// Where the generated code names the cache (`f_cache()` and its type), when that is not the
/// macro's call: the return type, when the cache's type is made of the runtime's projections of
/// it. A type named `Result` that is not one then fails them wherever the cache is named, and the
/// compiler reports one error (the others, alike and on the same token, are dropped as
/// duplicates) on the return type.
pub(super) fn cache_span(ty: &Type, projected: bool) -> Option<Span> {
    (projected && written_parts(ty).is_none()).then(|| type_name_span(ty))
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
