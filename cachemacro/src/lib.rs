//! The `#[memoize]` attribute, `#[derive(CacheKey)]` and `#[derive(CacheSize)]`. Use them through `cachemacro-runtime`,
//! which re-exports them and holds the documentation of every option and of the key encoding.
//!
//! Parse (`attr.rs`), check (`func.rs`, `valid.rs`, which resolves every default into a
//! `config::Config`), expand (`expand.rs`, from that configuration alone), as separate steps.
//! Every mistake is collected and reported at once on its own token; on error the function is
//! emitted unchanged beside the errors, so one mistake gives one error and the IDE keeps
//! working. The derives live on their own in `derive_key.rs` and `derive_size.rs` (private
//! modules: these are file names, not links).

mod attr;
mod bytes;
mod config;
mod derive_key;
mod derive_size;
mod errors;
mod expand;
mod func;
mod key_expr;
mod spans;
mod symbol;
mod valid;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Caches a function's results. See the `cachemacro-runtime` crate for the options.
#[proc_macro_attribute]
pub fn memoize(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize_impl(args.into(), item.into()).into()
}

/// Implements `CacheKey` for a struct or an enum. See `cachemacro_runtime::key` for the encoding
/// and the `#[cache_key(...)]` options.
#[proc_macro_derive(CacheKey, attributes(cache_key))]
pub fn derive_cache_key(item: TokenStream) -> TokenStream {
    derive_key::derive(item.into()).into()
}

/// Implements `CacheSize` for a struct or an enum: `size_of::<Self>()` once (it holds every
/// field's own bytes) plus what each field owns on the heap. Every type parameter is bounded by
/// `CacheSize`; a union is rejected. See `cachemacro_runtime::CacheSize`.
#[proc_macro_derive(CacheSize)]
pub fn derive_cache_size(item: TokenStream) -> TokenStream {
    derive_size::derive(item.into()).into()
}

fn memoize_impl(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let function = match syn::parse::Parser::parse2(parse_function, item.clone()) {
        Ok(function) => function,
        Err(_) => return not_a_function(item),
    };
    let mut errors = errors::Errors::default();
    let options = match attr::Options::parse(args, &mut errors) {
        Ok(options) => Some(options),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let func = func::analyze(function.clone(), &mut errors);
    let config = match (&options, &func) {
        (Some(options), Some(func)) => Some(valid::validate(options, func, &mut errors)),
        _ => None,
    };
    match (errors.into_result(), config, func) {
        (Ok(()), Some(config), Some(func)) => expand::expand(&config, &func),
        (result, _, _) => {
            let errors = result.err().map(|error| error.to_compile_error());
            let mut out = function.into_token_stream();
            out.extend(errors);
            out
        }
    }
}

/// Parses a function with a body, keeping the body as its tokens: the expansion emits it
/// unchanged and never looks inside, and parsing it into statements was about a fifth of the
/// macro's own time (callgrind, a crate of 200 memoized functions). A body that does not parse is
/// then reported by the compiler, on the body, rather than by this macro.
fn parse_function(input: syn::parse::ParseStream<'_>) -> syn::Result<syn::ItemFn> {
    let attrs = input.call(syn::Attribute::parse_outer)?;
    let vis = input.parse()?;
    let sig = input.parse()?;
    let body;
    let brace_token = syn::braced!(body in input);
    let tokens: proc_macro2::TokenStream = body.parse()?;
    let stmts = vec![syn::Stmt::Item(syn::Item::Verbatim(tokens))];
    let block = Box::new(syn::Block { brace_token, stmts });
    Ok(syn::ItemFn {
        attrs,
        vis,
        sig,
        block,
    })
}

/// The one error for `#[memoize]` on something that is not a function with a body.
fn not_a_function(item: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let message = if syn::parse2::<syn::TraitItemFn>(item.clone()).is_ok() {
        "#[memoize] needs a function body: put it on the method in the `impl` block, not on the \
         trait's declaration"
            .to_string()
    } else {
        let what = match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Struct(_)) => "a struct",
            Ok(syn::Item::Enum(_)) => "an enum",
            Ok(syn::Item::Trait(_)) => "a trait (put it on a method of an `impl` block)",
            Ok(syn::Item::Impl(_)) => "an impl block (put it on the method instead)",
            Ok(syn::Item::Mod(_)) => "a module",
            Ok(syn::Item::Const(_)) | Ok(syn::Item::Static(_)) => "a constant or static",
            Ok(syn::Item::Type(_)) => "a type alias",
            _ => "this item",
        };
        format!("#[memoize] applies to functions and methods with a body, not to {what}")
    };
    let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    let mut out = item;
    out.extend(error);
    out
}
