//! `f_warm(items)`, and the hidden step it takes per item: look the call up, compute and store it
//! if missing (see the runtime's `warm` module). A sync free function without background refresh
//! has no step: its `f_warm` calls the function itself, whose miss tells the runtime what it did
//! (`__private::warm_fn`). A method's step is a hidden function (a closure cannot take `&self`);
//! other sync functions' a closure inside `f_warm`.
//!
//! A sync `f_warm` runs items on several threads, so it needs `Send` items (and a `Sync` `self`);
//! it states that on its own generic parameter, so a function whose arguments are not `Send`
//! still compiles and only a call of `f_warm` fails. Its items are named only through a function
//! pointer type, which may elide lifetimes (`&str`, `Cow<str>`). An async `f_warm` polls its items
//! in the caller's task, and names them in a bound with every elided lifetime made explicit (an
//! async fn cannot hide a lifetime in a path, so all of them are visible).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, Type};

use super::Parts;

/// The most arguments of a function that gets `f_warm`: the largest tuple the runtime's
/// `WarmCall` is implemented for.
const MAX_WARM_ARGS: usize = 12;

/// `f_warm` and its step; nothing for a function of more arguments than `WarmCall` takes.
pub(super) fn companions(parts: &Parts<'_>) -> TokenStream {
    if parts.func.args.len() > MAX_WARM_ARGS {
        return TokenStream::new();
    }
    let one = format_ident!("__cachemacro_{}_warm_one", parts.func.name());
    if parts.config.is_async {
        let step = step(parts, &one);
        let companion = async_warm(parts, &one);
        return quote!(#step #companion);
    }
    if parts.func.receiver.is_some() {
        let step = step(parts, &one);
        let companion = sync_warm(parts, Step::Function(&one));
        return quote!(#step #companion);
    }
    let generics = &parts.func.item.sig.generics;
    // A `#[target_feature]` function does not coerce to a safe function pointer.
    if parts.config.refresh_after_ms == 0
        && generics.params.is_empty()
        && generics.where_clause.is_none()
        && parts.feature_attrs.is_empty()
    {
        return warm_by_calls(parts);
    }
    sync_warm(parts, Step::Closure)
}

/// The `f_warm` of a sync free function without background refresh: it calls `f` itself with
/// each item, and the runtime observes whether the call hit or computed (`__private::warm_fn`).
/// No step to generate, so the least code for the companion that is compiled for every function
/// and called by few. (A function with background refresh keeps its step: a stale hit's refresh
/// is left to the calls, which `f` would schedule.)
fn warm_by_calls(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        krate,
        func,
        companion_attrs,
        calls_deprecated,
        cache_ref,
        ..
    } = parts;
    let (name, vis, ret) = (func.name(), &func.item.vis, &func.ret);
    let warm_fn = format_ident!("{}_warm", name);
    let doc = doc(parts);
    let types = func.args.iter().map(|arg| &arg.ty);
    let arity = func.args.len();
    let pointer = quote!(fn(#(#types),*) -> #ret);
    // The parameter must not hide a function named `items`.
    let items = match name == "items" {
        true => format_ident!("__cachemacro_items"),
        false => format_ident!("items"),
    };
    // The cache through its proofs, like every other use: another item named `f_cache` is then
    // one error, not one more here (see `__private::FunctionCache`).
    quote! {
        #[doc = #doc]
        #(#companion_attrs)*
        #calls_deprecated
        #vis fn #warm_fn<__CachemacroItems>(#items: __CachemacroItems) -> #krate::WarmReport
        where
            __CachemacroItems: #krate::__private::WarmArgs<#pointer, #arity>,
        {
            #krate::__private::warm_fn(#items, #name as #pointer, #cache_ref)
        }
    }
}

/// Where a sync `f_warm` finds its step.
enum Step<'a> {
    /// A hidden function beside it: a method's step takes `&self`, which a closure cannot.
    Function(&'a Ident),
    /// A closure inside `f_warm`, coerced to the step's function pointer type: an item less to
    /// compile for every function that nothing warms (callgrind: 52 million instructions fewer
    /// in the touch rebuild of a crate of 200 memoized functions, 3%).
    Closure,
}

fn doc(parts: &Parts<'_>) -> String {
    let name = parts.func.name();
    format!(
        "Computes and stores `{name}` for each of `items` that is not cached yet, a few at a \
         time; each item is the function's arguments (a tuple of them when there are several). \
         See `cachemacro_runtime::warm`."
    )
}

/// The step for one item: look it up, and compute and store it if missing.
fn step(parts: &Parts<'_>, one: &Ident) -> TokenStream {
    let Parts {
        krate,
        func,
        companion_attrs,
        feature_attrs,
        calls_deprecated,
        arg_names: names,
        ..
    } = parts;
    let is_async = parts.config.is_async;
    let asyncness = &func.item.sig.asyncness;
    let types = func.args.iter().map(|arg| &arg.ty);
    let params = quote!(#(#names: #types),*);
    let lifetimes = func.item.sig.generics.lifetimes();
    let where_clause = where_predicates(parts);
    // A sync step takes a context first (`&self`, or `()`), as `__private::warm` passes it.
    let step_context = match (&func.receiver, is_async) {
        (Some(recv), _) => quote!(#recv,),
        (None, false) => quote!(_: (),),
        (None, true) => quote!(),
    };
    let step_body = step_body(parts);
    quote! {
        #[doc(hidden)]
        #(#companion_attrs)*
        #(#feature_attrs)*
        // Compiled only where `f_warm` is (see `companions`).
        #[inline]
        #[allow(clippy::ptr_arg, clippy::trivially_copy_pass_by_ref, clippy::too_many_arguments)]
        #calls_deprecated
        #asyncness fn #one<#(#lifetimes),*>(#step_context #params) -> #krate::__private::Warmed
        where #where_clause
        {
            #step_body
        }
    }
}

/// What a step does with its arguments: look the call up, and compute and store it if missing.
fn step_body(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        this,
        uncached,
        cache_ref,
        key_call,
        cacheable,
        self_arg,
        arg_names: names,
        dot_await,
        ..
    } = parts;
    let (warm_call, body) = if parts.config.is_async {
        (
            quote!(warm_async),
            quote!(#this #uncached(#self_arg #(#names),*)),
        )
    } else {
        let (args, body) = parts.args_and_body();
        (quote!(warm), quote!(#args, #body))
    };
    quote! {
        let __cachemacro_cache = #cache_ref;
        let __cachemacro_key = #key_call;
        __cachemacro_cache.#warm_call(__cachemacro_key, #cacheable, #body) #dot_await
    }
}

/// The step of a sync free function as a closure: `|_, a, b| { look up, compute if missing }`,
/// its argument types taken from the function pointer type it is assigned to.
fn step_closure(parts: &Parts<'_>) -> TokenStream {
    let names = &parts.arg_names;
    let body = step_body(parts);
    quote!(|_, #(#names),*| { #body })
}

fn where_predicates(parts: &Parts<'_>) -> Option<TokenStream> {
    let clause = parts.func.item.sig.generics.where_clause.as_ref()?;
    let predicates = &clause.predicates;
    Some(quote!(#predicates))
}

/// One item, as a pattern: the argument, or a tuple of them.
fn item_pattern(names: &[&Ident]) -> TokenStream {
    match names.len() {
        1 => quote!(#(#names)*),
        _ => quote!((#(#names,)*)),
    }
}

/// An async `f_warm`: polls the steps in the caller's task.
fn async_warm(parts: &Parts<'_>, one: &Ident) -> TokenStream {
    let Parts {
        krate,
        func,
        this,
        companion_attrs,
        feature_attrs,
        calls_deprecated,
        self_arg,
        arg_names: names,
        ..
    } = parts;
    let warm_fn = format_ident!("{}_warm", func.name());
    let vis = &func.item.vis;
    let lifetimes = func.item.sig.generics.lifetimes();
    let where_clause = where_predicates(parts);
    let items = quote!(__CachemacroItems);
    let doc = doc(parts);
    let pattern = item_pattern(names);
    let explicit: Vec<Type> = func
        .args
        .iter()
        .map(|arg| {
            let mut ty = arg.ty.clone();
            name_elided_lifetimes(&mut ty);
            ty
        })
        .collect();
    let item_type = match explicit.len() {
        1 => quote!(#(#explicit)*),
        _ => quote!((#(#explicit,)*)),
    };
    let receiver_param = func.receiver.as_ref().map(|recv| quote!(#recv,));
    quote! {
        #[doc = #doc]
        #(#companion_attrs)*
        #(#feature_attrs)*
        #calls_deprecated
        #vis async fn #warm_fn<#(#lifetimes,)* '__cachemacro_items, #items>(
            #receiver_param items: #items,
        ) -> #krate::WarmReport
        where
            #items: ::core::iter::IntoIterator<Item = #item_type>,
            #where_clause
        {
            #krate::__private::warm_async(items, |#pattern| async move {
                #this #one(#self_arg #(#names),*).await
            })
            .await
        }
    }
}

/// A sync `f_warm`: runs the steps on several threads, through a function pointer.
fn sync_warm(parts: &Parts<'_>, step: Step<'_>) -> TokenStream {
    let Parts {
        krate,
        func,
        this,
        companion_attrs,
        feature_attrs,
        calls_deprecated,
        ..
    } = parts;
    let warm_fn = format_ident!("{}_warm", func.name());
    let vis = &func.item.vis;
    let lifetimes = func.item.sig.generics.lifetimes();
    let where_clause = where_predicates(parts);
    let items = quote!(__CachemacroItems);
    let doc = doc(parts);
    let types = func.args.iter().map(|arg| &arg.ty);
    let arity = func.args.len();
    // `self`'s lifetime as written (`&'a self`), else one of f_warm's own (a method's only).
    let (self_lifetime, own_lifetime) = match &func.receiver {
        None => (quote!(), None),
        Some(recv) => match recv.lifetime() {
            Some(lifetime) => (quote!(#lifetime), None),
            None => (
                quote!('__cachemacro_self),
                Some(quote!('__cachemacro_self,)),
            ),
        },
    };
    let (receiver_param, context, context_type, pointer_context) = match &func.receiver {
        Some(_) => (
            quote!(&#self_lifetime self,),
            quote!(self),
            quote!(&#self_lifetime Self),
            match own_lifetime {
                Some(_) => quote!(&Self),
                None => quote!(&#self_lifetime Self),
            },
        ),
        None => (quote!(), quote!(()), quote!(()), quote!(())),
    };
    let pointer = quote!(fn(#pointer_context, #(#types),*) -> #krate::__private::Warmed);
    let step = match step {
        // A `#[target_feature]` step does not coerce to a safe function pointer; a closure
        // that calls it does, and inherits `f_warm`'s features to call it safely.
        Step::Function(one) if !parts.feature_attrs.is_empty() => {
            let names = &parts.arg_names;
            quote!(let __cachemacro_step: #pointer =
                |__cachemacro_this, #(#names),*| #this #one(__cachemacro_this, #(#names),*);)
        }
        Step::Function(one) => quote!(let __cachemacro_step = #this #one as #pointer;),
        Step::Closure => {
            let closure = step_closure(parts);
            quote!(let __cachemacro_step: #pointer = #closure;)
        }
    };
    quote! {
        #[doc = #doc]
        #(#companion_attrs)*
        #(#feature_attrs)*
        #calls_deprecated
        #vis fn #warm_fn<#(#lifetimes,)* #own_lifetime #items>(
            #receiver_param items: #items,
        ) -> #krate::WarmReport
        where
            #items: #krate::__private::WarmItems<#pointer, #context_type, #arity>,
            #where_clause
        {
            #step
            #krate::__private::warm(#context, items, __cachemacro_step)
        }
    }
}

/// Names every elided lifetime in `ty` (`&T`, `'_`) `'__cachemacro_items`, so that the type can
/// appear in a bound.
fn name_elided_lifetimes(ty: &mut Type) {
    let named = || syn::Lifetime::new("'__cachemacro_items", Span::call_site());
    let in_path = |path: &mut syn::Path| {
        for segment in &mut path.segments {
            if let syn::PathArguments::AngleBracketed(args) = &mut segment.arguments {
                for arg in &mut args.args {
                    match arg {
                        syn::GenericArgument::Type(ty) => name_elided_lifetimes(ty),
                        syn::GenericArgument::Lifetime(lifetime) if lifetime.ident == "_" => {
                            *lifetime = named();
                        }
                        _ => {}
                    }
                }
            }
        }
    };
    match ty {
        Type::Reference(reference) => {
            match &reference.lifetime {
                None => reference.lifetime = Some(named()),
                Some(lifetime) if lifetime.ident == "_" => reference.lifetime = Some(named()),
                Some(_) => {}
            }
            name_elided_lifetimes(&mut reference.elem);
        }
        Type::Path(path) => {
            if let Some(qself) = &mut path.qself {
                name_elided_lifetimes(&mut qself.ty);
            }
            in_path(&mut path.path);
        }
        Type::Tuple(tuple) => tuple.elems.iter_mut().for_each(name_elided_lifetimes),
        Type::Slice(slice) => name_elided_lifetimes(&mut slice.elem),
        Type::Array(array) => name_elided_lifetimes(&mut array.elem),
        Type::Paren(inner) => name_elided_lifetimes(&mut inner.elem),
        Type::Group(inner) => name_elided_lifetimes(&mut inner.elem),
        Type::Ptr(pointer) => name_elided_lifetimes(&mut pointer.elem),
        Type::TraitObject(object) => {
            for bound in &mut object.bounds {
                match bound {
                    syn::TypeParamBound::Lifetime(lifetime) if lifetime.ident == "_" => {
                        *lifetime = named();
                    }
                    syn::TypeParamBound::Trait(bound) => in_path(&mut bound.path),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}
