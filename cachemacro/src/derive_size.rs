//! `#[derive(CacheSize)]`: a struct's or enum's size is `size_of::<Self>()`, which holds every
//! field's own bytes (an enum's: its largest variant's), plus what each field of the value owns
//! beyond its own bytes (its `heap_size`). Summing the fields' whole sizes instead would count
//! their own bytes twice.
//!
//! Every type parameter is bounded by `CacheSize`, as std's derives bound theirs. `HEAP_FREE` is
//! left `false`: deriving it would need every field type's `CacheSize` a second time, and a field
//! type without one would be reported twice. A collection of a derived type visits its elements,
//! whose `heap_size` an optimised build folds to a sum of zeros when no field owns anything.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::spans::{respan, type_name_span};

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let krate = quote!(::cachemacro_runtime);
    let trait_path = quote!(#krate::CacheSize);
    let heap = match &input.data {
        Data::Struct(data) => {
            let heaps = data.fields.iter().enumerate().map(|(index, field)| {
                let member = match &field.ident {
                    Some(ident) => syn::Member::Named(ident.clone()),
                    None => syn::Member::Unnamed(index.into()),
                };
                heap_of(&trait_path, field, quote!(&self.#member))
            });
            quote!(0usize #(+ #heaps)*)
        }
        Data::Enum(data) => {
            let arms = data.variants.iter().map(|variant| {
                let ident = &variant.ident;
                let names: Vec<_> = (0..variant.fields.len())
                    .map(|index| format_ident!("__cachemacro_field_{}", index))
                    .collect();
                let pattern = match &variant.fields {
                    Fields::Unit => quote!(),
                    Fields::Named(fields) => {
                        let members = fields.named.iter().map(|field| &field.ident);
                        quote!({ #(#members: #names),* })
                    }
                    Fields::Unnamed(_) => quote!((#(#names),*)),
                };
                let heaps = variant
                    .fields
                    .iter()
                    .zip(&names)
                    .map(|(field, name)| heap_of(&trait_path, field, quote!(#name)));
                quote!(Self::#ident #pattern => 0usize #(+ #heaps)*,)
            });
            // An enum without variants has no values: `*self` is matched by no arm (and no sum
            // follows it, which would be unreachable).
            if data.variants.is_empty() {
                return impl_for(&input, &trait_path, quote!(match *self {}));
            }
            quote!(match self { #(#arms)* })
        }
        Data::Union(data) => {
            return syn::Error::new(
                data.union_token.span(),
                "`CacheSize` cannot be derived for a union: which field holds the value is not \
                 recorded, so what it owns cannot be read safely; implement `CacheSize` by hand, \
                 or use an enum",
            )
            .to_compile_error();
        }
    };
    impl_for(
        &input,
        &trait_path,
        quote!(::core::mem::size_of::<Self>() + #heap),
    )
}

/// The impl, with `body` as `cache_size`'s.
fn impl_for(input: &DeriveInput, trait_path: &TokenStream, body: TokenStream) -> TokenStream {
    let name = &input.ident;
    let mut generics = input.generics.clone();
    let params: Vec<syn::Ident> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect();
    let where_clause = generics.make_where_clause();
    for param in params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#param: #trait_path));
    }
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #trait_path for #name #type_generics #where_clause {
            #[inline]
            fn cache_size(&self) -> ::core::primitive::usize {
                #body
            }
        }
    }
}

/// What one field owns beyond its own bytes, `value` being a reference to it; spanned on the
/// field's type, so a type without `CacheSize` is reported there.
fn heap_of(trait_path: &TokenStream, field: &syn::Field, value: TokenStream) -> TokenStream {
    let ty = &field.ty;
    let span = type_name_span(ty);
    let trait_path = respan(trait_path.clone(), span);
    quote_spanned!(span=> <#ty as #trait_path>::heap_size(#value))
}
