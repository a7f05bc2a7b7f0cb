//! Spans for errors reported on the user's tokens: the name of a type, and tokens moved there.

use proc_macro2::{Span, TokenStream};
use syn::Type;
use syn::spanned::Spanned;

/// The span of a type's name: `HashMap` in `&std::collections::HashMap<K, V>`. A span covers one
/// token on stable Rust, and the name is the token that says what the type is.
pub(crate) fn type_name_span(ty: &Type) -> Span {
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

/// `tokens` with every span set to `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}
