//! Spans for errors reported on the user's tokens: the name of a type, and tokens moved there.

use proc_macro2::{Ident, Span, TokenStream};
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
    map_spans(tokens, |_| span)
}

/// `ident` moved to `span` for errors, still resolving as itself: a name spanned on a user's
/// type resolves in that type's hygiene context, which under a `macro_rules!` caller (`$t:ty`)
/// is not the context of the arguments and locals the expansion declares.
pub(crate) fn located_at(ident: &Ident, span: Span) -> Ident {
    let mut moved = ident.clone();
    moved.set_span(ident.span().located_at(span));
    moved
}

/// [`located_at`] for every token of `tokens`.
pub(crate) fn located(tokens: TokenStream, span: Span) -> TokenStream {
    map_spans(tokens, |own| own.located_at(span))
}

/// `tokens` with each top-level token's span replaced by `to(its span)`.
fn map_spans(tokens: TokenStream, to: impl Fn(Span) -> Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            token.set_span(to(token.span()));
            token
        })
        .collect()
}
