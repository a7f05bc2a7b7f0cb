//! `#[derive(CacheKey)]`: writes a struct's fields, or an enum's variant name and fields, in the
//! encoding the runtime's `key` module specifies for derived types.
//!
//! Like `#[memoize]`, every mistake is collected and reported at once, each on its own token; a
//! field whose type has no key is reported by the compiler, on the field's type, through the
//! runtime's `__private::KeyField`.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::visit::Visit;

use crate::spans::{located, located_at, type_name_span};
use syn::{Data, DeriveInput, Fields, Ident, Lit, LitStr, Token};

use crate::attr::closest;
use crate::errors::Errors;

/// The attribute of the derive: `#[cache_key(...)]`.
const ATTR: &str = "cache_key";
const SKIP: &str = "skip";
const RENAME: &str = "rename";
const CRATE: &str = "crate";

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let krate = container_options(&input, &mut errors);
    let body = match &input.data {
        Data::Struct(data) => {
            let fields = read_fields(&data.fields, &mut errors);
            Some(struct_body(&krate, &fields))
        }
        Data::Enum(data) => enum_body(&krate, data, &mut errors),
        Data::Union(data) => {
            errors.spanned(
                data.union_token,
                "`CacheKey` cannot be derived for a union: which field holds the value is not \
                 recorded, so its key cannot be read safely; implement `CacheKey` by hand, or \
                 use an enum",
            );
            None
        }
    };
    if let Err(error) = errors.into_result() {
        return error.to_compile_error();
    }
    let Some((body, used)) = body else {
        return TokenStream::new();
    };

    let name = &input.ident;
    let mut generics = input.generics.clone();
    // Bound the type parameters that keyed fields use, as serde's derives do: a parameter that
    // only a skipped field (or no field) mentions needs no key. A field of an associated type
    // (`I::Item`) bounds that type, not the parameter (`I` itself needs no key).
    let params: BTreeSet<Ident> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect();
    let bounded: Vec<Ident> = params
        .iter()
        .filter(|param| used.params.contains(*param))
        .cloned()
        .collect();
    let associated: Vec<syn::Path> = used
        .associated
        .into_iter()
        .filter(|path| {
            path.segments
                .first()
                .is_some_and(|first| params.contains(&first.ident))
        })
        .collect();
    let where_clause = generics.make_where_clause();
    for param in bounded {
        where_clause
            .predicates
            .push(syn::parse_quote!(#param: #krate::CacheKey));
    }
    for path in associated {
        where_clause
            .predicates
            .push(syn::parse_quote!(#path: #krate::CacheKey));
    }
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::CacheKey for #name #type_generics #where_clause {
            #[inline]
            fn write_key<__CachemacroSink: #krate::KeySink + ?::core::marker::Sized>(
                &self,
                __cachemacro_out: &mut __CachemacroSink,
            ) {
                #body
            }
        }
    }
}

/// `#[cache_key(crate = "...")]` on the type: the runtime's path, `::cachemacro_runtime` unless
/// given.
fn container_options(input: &DeriveInput, errors: &mut Errors) -> TokenStream {
    let mut krate: Option<syn::Path> = None;
    for option in options_of(&input.attrs, errors) {
        match option.name.as_str() {
            CRATE => {
                let Some(text) = option.string(errors) else {
                    continue;
                };
                match text.parse::<syn::Path>() {
                    Ok(_) if krate.is_some() => {
                        errors.at(option.key.span(), "duplicate `crate`: set it once");
                    }
                    Ok(mut path) => {
                        // A bare name means the dependency, as in `#[memoize(crate = "...")]`.
                        if path.leading_colon.is_none() && path.segments.len() == 1 {
                            path.leading_colon = Some(Default::default());
                        }
                        krate = Some(path);
                    }
                    Err(_) => errors.spanned(
                        &text,
                        "`crate` must be a path, as in `#[cache_key(crate = \"my_cache\")]`",
                    ),
                }
            }
            _ => option.misplaced(
                "the type",
                &[CRATE],
                "`skip` goes on a field, `rename` on an enum variant",
                errors,
            ),
        }
    }
    match krate {
        Some(path) => quote!(#path),
        None => quote!(::cachemacro_runtime),
    }
}

/// One field that is part of the key.
struct KeyedField {
    /// `self.#member` reaches it in a struct.
    member: syn::Member,
    ty: syn::Type,
    /// Its position among the fields, to name its binding in an enum's match.
    index: usize,
}

/// The fields not marked `#[cache_key(skip)]`, in declaration order.
fn read_fields(fields: &Fields, errors: &mut Errors) -> Vec<KeyedField> {
    let mut keyed = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        let mut skip = false;
        for option in options_of(&field.attrs, errors) {
            match option.name.as_str() {
                SKIP if option.value.is_some() => errors.at(
                    option.key.span(),
                    "`skip` takes no value: write `#[cache_key(skip)]`",
                ),
                SKIP if skip => errors.at(option.key.span(), "duplicate `skip`: set it once"),
                SKIP => skip = true,
                _ => option.misplaced(
                    "a field",
                    &[SKIP],
                    "`rename` goes on an enum variant, `crate` on the type",
                    errors,
                ),
            }
        }
        if skip {
            continue;
        }
        let member = match &field.ident {
            Some(ident) => syn::Member::Named(ident.clone()),
            None => syn::Member::Unnamed(index.into()),
        };
        keyed.push(KeyedField {
            member,
            ty: field.ty.clone(),
            index,
        });
    }
    keyed
}

/// Writes one field, `value` being a reference to it, through `<Type as KeyField>`: the path is
/// located on the field's type, so a type without a key is reported there (with `KeyField`'s
/// advice for fields).
fn write_field(krate: &TokenStream, field: &KeyedField, value: TokenStream) -> TokenStream {
    let span = type_name_span(&field.ty);
    // Located on the type, each token resolving as the derive's own: under a `macro_rules!`
    // caller (`$t:ty` fields) the type's span carries the caller's hygiene, not the derive's.
    let value = located(value, span);
    let out = located_at(&Ident::new("__cachemacro_out", Span::call_site()), span);
    let ty = &field.ty;
    let key_field = located(quote!(#krate::__private::KeyField), span);
    quote_spanned!(span=> <#ty as #key_field>::write_field(#value, #out);)
}

/// What keyed fields' types mention: the names their paths start with (among them the type
/// parameters they use), and their paths of several segments (among them associated types of
/// parameters, such as `I::Item`), filtered against the parameters by the caller.
#[derive(Default)]
struct Used {
    params: BTreeSet<Ident>,
    associated: Vec<syn::Path>,
}

fn used_names(fields: &[KeyedField], used: &mut Used) {
    struct Names<'a>(&'a mut Used);
    impl<'ast> Visit<'ast> for Names<'_> {
        fn visit_path(&mut self, path: &'ast syn::Path) {
            let mut segments = path.segments.iter();
            let Some(first) = segments.next() else {
                return;
            };
            if path.segments.len() > 1 && path.leading_colon.is_none() && first.arguments.is_none()
            {
                // `I::Item` (or `std::vec::Vec<T>`): the path is what is keyed, and only the
                // arguments of its later segments may use parameters on their own.
                let text = quote!(#path).to_string();
                if !self
                    .0
                    .associated
                    .iter()
                    .any(|seen| quote!(#seen).to_string() == text)
                {
                    self.0.associated.push(path.clone());
                }
                for segment in segments {
                    self.visit_path_arguments(&segment.arguments);
                }
                return;
            }
            self.0.params.insert(first.ident.clone());
            syn::visit::visit_path(self, path);
        }
    }
    for field in fields {
        Names(used).visit_type(&field.ty);
    }
}

fn struct_body(krate: &TokenStream, keyed: &[KeyedField]) -> (TokenStream, Used) {
    let writes = keyed.iter().map(|field| {
        let member = &field.member;
        write_field(krate, field, quote!(&self.#member))
    });
    let mut used = Used::default();
    used_names(keyed, &mut used);
    (quote!(#(#writes)*), used)
}

fn enum_body(
    krate: &TokenStream,
    data: &syn::DataEnum,
    errors: &mut Errors,
) -> Option<(TokenStream, Used)> {
    let mut used = Used::default();
    let mut arms = Vec::new();
    // The encoded names seen so far, to reject two variants that would write the same name.
    let mut names: BTreeMap<String, Ident> = BTreeMap::new();
    for variant in &data.variants {
        let ident = &variant.ident;
        let mut rename: Option<LitStr> = None;
        for option in options_of(&variant.attrs, errors) {
            match option.name.as_str() {
                RENAME => {
                    let Some(text) = option.string(errors) else {
                        continue;
                    };
                    if rename.is_some() {
                        errors.at(option.key.span(), "duplicate `rename`: set it once");
                    } else if text.value().is_empty() {
                        errors.spanned(&text, "`rename` must not be empty");
                    } else {
                        rename = Some(text);
                    }
                }
                _ => option.misplaced(
                    "an enum variant",
                    &[RENAME],
                    "`skip` goes on a field, `crate` on the type",
                    errors,
                ),
            }
        }
        let encoded = rename
            .as_ref()
            .map_or_else(|| ident.unraw().to_string(), LitStr::value);
        if let Some(earlier) = names.get(&encoded) {
            let at = rename.as_ref().map_or(ident.span(), LitStr::span);
            errors.at(
                at,
                format_args!(
                    "variant `{ident}` would be keyed as \"{encoded}\", like variant `{earlier}`: \
                     their keys could not be told apart; rename one of them with \
                     `#[cache_key(rename = \"...\")]`"
                ),
            );
        } else {
            names.insert(encoded.clone(), ident.clone());
        }

        let keyed = read_fields(&variant.fields, errors);
        used_names(&keyed, &mut used);
        let binding = |field: &KeyedField| format_ident!("__cachemacro_field_{}", field.index);
        let pattern = match &variant.fields {
            Fields::Unit => quote!(),
            Fields::Named(_) => {
                let bound = keyed.iter().map(|field| {
                    let (member, name) = (&field.member, binding(field));
                    quote!(#member: #name)
                });
                quote!({ #(#bound,)* .. })
            }
            Fields::Unnamed(fields) => {
                let slots = (0..fields.unnamed.len()).map(|index| {
                    match keyed.iter().find(|field| field.index == index) {
                        Some(field) => {
                            let name = binding(field);
                            quote!(#name)
                        }
                        None => quote!(_),
                    }
                });
                quote!((#(#slots),*))
            }
        };
        let writes = keyed.iter().map(|field| {
            let name = binding(field);
            write_field(krate, field, quote!(#name))
        });
        arms.push(quote! {
            Self::#ident #pattern => {
                #krate::CacheKey::write_key(#encoded, __cachemacro_out);
                #(#writes)*
            }
        });
    }
    // The bindings borrow the fields. An enum without variants has no values: `*self` is
    // matched by no arm.
    let body = if arms.is_empty() {
        quote!(match *self {})
    } else {
        quote! {
            match self {
                #(#arms)*
            }
        }
    };
    Some((body, used))
}

/// One `name` or `name = "value"` inside `#[cache_key(...)]`.
struct RawOption {
    key: Ident,
    name: String,
    value: Option<Lit>,
}

impl syn::parse::Parse for RawOption {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        // `crate` is a keyword: accept any identifier and judge the name afterwards.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        let name = key.unraw().to_string();
        Ok(RawOption { key, name, value })
    }
}

impl RawOption {
    /// The option's value as a string literal, or an error.
    fn string(&self, errors: &mut Errors) -> Option<LitStr> {
        match &self.value {
            Some(Lit::Str(text)) => Some(text.clone()),
            Some(other) => {
                errors.spanned(
                    other,
                    format_args!(
                        "`{}` takes a string, as in {}",
                        self.name,
                        example(&self.name)
                    ),
                );
                None
            }
            None => {
                errors.at(
                    self.key.span(),
                    format_args!(
                        "`{}` needs a value, as in {}",
                        self.name,
                        example(&self.name)
                    ),
                );
                None
            }
        }
    }

    /// Reports an option that is unknown, or known but in the wrong place: `what` takes the
    /// options `here`, and `elsewhere` says where the others go.
    fn misplaced(&self, what: &str, here: &[&str], elsewhere: &str, errors: &mut Errors) {
        let name = &self.name;
        let takes = here
            .iter()
            .map(|option| format!("`{option}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let message = if [SKIP, RENAME, CRATE].contains(&name.as_str()) {
            format!("`{name}` does not apply to {what}: {elsewhere}")
        } else if let Some(meant) = closest(name, here) {
            format!(
                "unknown `cache_key` option `{name}`: did you mean `{meant}`? ({what} takes {takes})"
            )
        } else {
            format!("unknown `cache_key` option `{name}`: {what} takes {takes}")
        };
        errors.at(self.key.span(), message);
    }
}

fn example(name: &str) -> &'static str {
    match name {
        RENAME => "`#[cache_key(rename = \"OldName\")]`",
        CRATE => "`#[cache_key(crate = \"my_cache\")]`",
        _ => "`#[cache_key(skip)]`",
    }
}

/// The options of every `#[cache_key(...)]` among `attrs`; a malformed attribute is reported and
/// contributes none.
fn options_of(attrs: &[syn::Attribute], errors: &mut Errors) -> Vec<RawOption> {
    let mut options = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(ATTR)) {
        let parsed = attr
            .parse_args_with(syn::punctuated::Punctuated::<RawOption, Token![,]>::parse_terminated);
        match parsed {
            Ok(list) => options.extend(list),
            Err(error) => errors.push(syn::Error::new(
                error.span(),
                format_args!(
                    "{error}: write `#[cache_key(skip)]` on a field, `#[cache_key(rename = \"...\")]` on a variant, `#[cache_key(crate = \"...\")]` on the type"
                ),
            )),
        }
    }
    options
}
