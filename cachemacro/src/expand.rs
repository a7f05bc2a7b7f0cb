//! Generates the memoized function and its companions from a checked [`Func`] and its options.
//!
//! The generated code stays small: the body lives once, in `f_uncached`; the cache is one `static`
//! inside `f_cache()`; everything else calls into the runtime. Paths are absolute (`::core`, the
//! runtime's path), so local items named `core`, `std` or `Result` change nothing.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, Type};

use crate::attr::{Backend, Options};
use crate::func::{Func, ResultKind};

/// The most arguments of a function that gets `f_warm`: the largest tuple the runtime's
/// `WarmCall` is implemented for.
const MAX_WARM_ARGS: usize = 12;

pub(crate) fn expand(options: &Options, func: &Func) -> TokenStream {
    let krate = match options.krate.value() {
        Some(path) => quote!(#path),
        None => quote!(::cachemacro_runtime),
    };
    let name = func.name();
    let vis = &func.item.vis;
    let ret = &func.ret;
    let asyncness = &func.item.sig.asyncness;
    let generics = &func.item.sig.generics;
    let where_clause = &generics.where_clause;

    let uncached = format_ident!("{}_uncached", name);
    let refresh = format_ident!("{}_refresh", name);
    let invalidate = format_ident!("{}_invalidate", name);
    let cache = format_ident!("{}_cache", name);
    let key_fn = format_ident!("__cachemacro_{}_key", name);

    // Siblings of a method are associated functions: call them through `Self`.
    let this = func.receiver.as_ref().map(|_| quote!(Self::));
    let self_arg = func.receiver.as_ref().map(|_| quote!(self,));

    let receiver = &func.receiver;
    let params: Vec<TokenStream> = func
        .args
        .iter()
        .map(|arg| {
            let (ident, ty) = (&arg.ident, &arg.ty);
            quote!(#ident: #ty)
        })
        .collect();
    let receiver_param = receiver.as_ref().map(|recv| quote!(#recv,));
    let arg_names: Vec<&Ident> = func.args.iter().map(|arg| &arg.ident).collect();

    // The key: every argument not in `ignore`, in order; or with `key = ...`, the expression's
    // value alone, computed from borrows of every argument (and `self`).
    let key_expr = options.key.value();
    let ignored = |ident: &Ident| {
        options
            .ignore
            .value()
            .is_some_and(|names| names.iter().any(|name| name == ident))
    };
    let key_self = func.receiver.is_some()
        && !options
            .ignore
            .value()
            .is_some_and(|names| names.iter().any(|n| n == "self"));
    let key_args: Vec<_> = func
        .args
        .iter()
        .filter(|arg| !ignored(&arg.ident))
        .collect();
    let key_params = key_args.iter().map(|arg| {
        let (ident, ty) = (&arg.ident, &arg.ty);
        quote!(#ident: &#ty)
    });
    let key_writes: Vec<TokenStream> = match key_expr {
        Some(expr) => vec![key_expr_write(&krate, expr)],
        None => key_args.iter().map(|arg| {
            // The argument carries its type's span, so a type that cannot be part of a key is
            // reported on the type, not on the argument's name.
            let span = type_name_span(&arg.ty);
            let ident = Ident::new(&arg.ident.to_string(), span);
            // `&T` keys as `T`: write the referent, so an error names `T`, the type to give a key.
            let derefs = (0..reference_depth(&arg.ty)).map(|_| quote_spanned!(span=> *));
            quote_spanned!(span=> #krate::__private::KeyArg::write_arg(#(#derefs)* #ident, &mut __cachemacro_out);)
        }).collect(),
    };
    let key_key_args = key_args.iter().map(|arg| &arg.ident);
    let (key_receiver, key_self_write, key_self_arg) = match (&func.receiver, key_self) {
        (Some(recv), true) => (
            Some(quote!(#recv,)),
            key_expr.is_none().then(|| {
                quote_spanned!(recv.self_token.span=> #krate::__private::KeySelf::write_self(self, &mut __cachemacro_out);)
            }),
            Some(quote!(self,)),
        ),
        _ => (None, None, None),
    };
    // The hasher comes from the cache: in process it carries the cache's own random seeds.
    let key_call =
        quote!(#this #key_fn(#key_self_arg #(&#key_key_args,)* __cachemacro_cache.key_hasher()));

    let cacheable = match func.kind {
        ResultKind::Result if options.cache_err.value() != Some(&true) => {
            quote!(|__cachemacro_r: &#ret| ::core::result::Result::is_ok(__cachemacro_r))
        }
        ResultKind::Option if options.cache_none.value() == Some(&false) => {
            quote!(|__cachemacro_r: &#ret| ::core::option::Option::is_some(__cachemacro_r))
        }
        _ => quote!(|_: &#ret| true),
    };

    // What the cache keeps of a result (the runtime's `layout`): of a `Result` whose errors are not
    // cached, the `Ok` value alone, so that the error type needs neither `Clone` nor serde.
    let parts = (func.kind == ResultKind::Result).then(|| result_parts(ret, &krate));
    let caches_errors = options.cache_err.value() == Some(&true);
    let (kept, layout) = match &parts {
        Some((ok, _)) if !caches_errors => (ok.clone(), quote!(, #krate::__private::OkOnly)),
        _ => (quote!(#ret), quote!()),
    };
    // Every use of the cache goes through these proofs: for a type that cannot be cached each is
    // the one error, on that type, instead of one per use (see `__private::CacheValue`). With
    // `cache_err = true` the `Ok` and error types are proved apart, so that an error type that
    // cannot be cached is reported on itself, with the advice to drop `cache_err`.
    let proof = match &parts {
        Some((ok, err)) if caches_errors => quote!(
            <#ok as #krate::__private::CacheValue<_>>::proof()
                .and_err(<#err as #krate::__private::CachedError<_>>::proof())
        ),
        _ => quote!(<#kept as #krate::__private::CacheValue<_>>::proof()),
    };
    let cache_call = quote!(#this #cache());
    let (cache_ty, new_cache, cache_ref) = match options.backend() {
        Backend::Memory => (
            quote!(#krate::MemoryCache<#kept #layout>),
            quote!(#proof.memory_cache),
            quote!(#proof.pass(#cache_call)),
        ),
        Backend::Redis => {
            // A second proof reports a type without serde once, on the type that is stored (see
            // `__private::StoredValue`).
            let stored_proof = match &parts {
                Some((ok, err)) if caches_errors => quote!(
                    <#ok as #krate::__private::StoredValue<_>>::proof()
                        .and_err(<#err as #krate::__private::StoredError<_>>::proof())
                ),
                _ => quote!(<#kept as #krate::__private::StoredValue<_>>::proof()),
            };
            let cache_ty = quote!(#krate::RedisCache<#kept #layout>);
            (
                cache_ty.clone(),
                quote!(<#cache_ty>::new),
                quote!(#proof.pass(#stored_proof.pass(#cache_call))),
            )
        }
    };
    let fn_name = match options.name.value() {
        Some(explicit) => quote!(#explicit),
        None => {
            let plain = name.to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #plain))
        }
    };
    let version = options.version.value().copied().unwrap_or(0);
    let ttl_ms = options.ttl.value().copied().unwrap_or(0);
    let capacity = match options.capacity.value() {
        Some(capacity) => quote!(#capacity),
        None => quote!(#krate::memory::DEFAULT_CAPACITY),
    };

    let user_attrs = &func.item.attrs;
    let companion_attrs: Vec<&Attribute> = func
        .item
        .attrs
        .iter()
        .filter(|attr| is_passed_to_companions(attr))
        .collect();
    let body = &func.item.block;
    let uncached_sig = {
        let mut sig = func.item.sig.clone();
        sig.ident = uncached.clone();
        sig
    };
    let doc_uncached = format!("Runs [`{name}`] without reading or writing its cache.");
    let doc_refresh =
        format!("Runs [`{name}`]'s body now and stores the result in its cache (prime or put).");
    let doc_invalidate = format!(
        "Removes [`{name}`]'s cache entry for these arguments; `true` if there was a live one."
    );
    let doc_cache = match options.backend() {
        Backend::Memory => format!("The cache behind [`{name}`]: statistics, `clear()`, `len()`."),
        Backend::Redis => format!(
            "The Redis cache behind [`{name}`]: statistics, `clear()` and `clear_async()`, `len()`, \
             and `configure()` to point it at its own Redis (URL, namespace, timeout)."
        ),
    };

    let (get, store, invalidate_call, dot_await) = if asyncness.is_some() {
        (
            quote!(get_or_compute_async),
            quote!(store_async),
            quote!(invalidate_async),
            quote!(.await),
        )
    } else {
        (
            quote!(get_or_compute),
            quote!(store),
            quote!(invalidate),
            quote!(),
        )
    };
    let lookup = if options.refresh_after_ms() > 0 {
        refreshing_lookup(&krate, func, &this, &uncached, &cacheable)
    } else {
        let body_call = if asyncness.is_some() {
            quote!(#this #uncached(#self_arg #(#arg_names),*))
        } else {
            quote!(move || #this #uncached(#self_arg #(#arg_names),*))
        };
        quote!(__cachemacro_cache.#get(__cachemacro_key, #cacheable, #body_call) #dot_await)
    };
    // The in-process store sees a bypass in the thread-local it reads anyway; a Redis call is
    // checked here.
    let bypass = match options.backend() {
        Backend::Memory => None,
        Backend::Redis => Some(quote! {
            if #krate::__private::bypassed() {
                return #this #uncached(#self_arg #(#arg_names),*) #dot_await;
            }
        }),
    };
    let warm = warm_companions(&Warm {
        krate: &krate,
        func,
        this: &this,
        uncached: &uncached,
        cache_ref: &cache_ref,
        key_call: &key_call,
        cacheable: &cacheable,
        companion_attrs: &companion_attrs,
    });
    let refresh_after_ms = options.refresh_after_ms();
    let lock = options.lock().variant();
    let lock_ttl_ms = options.lock_ttl_ms();

    quote! {
        #(#user_attrs)*
        #vis #asyncness fn #name #generics (#receiver_param #(#params),*) -> #ret #where_clause {
            #bypass
            let __cachemacro_cache = #cache_ref;
            let __cachemacro_key = #key_call;
            #lookup
        }

        #[doc = #doc_uncached]
        #(#companion_attrs)*
        #vis #uncached_sig #body

        #[doc = #doc_refresh]
        #(#companion_attrs)*
        #vis #asyncness fn #refresh #generics (#receiver_param #(#params),*) -> #ret #where_clause {
            let __cachemacro_cache = #cache_ref;
            let __cachemacro_key = #key_call;
            let __cachemacro_value = #this #uncached(#self_arg #(#arg_names),*) #dot_await;
            __cachemacro_cache.#store(__cachemacro_key, #cacheable, &__cachemacro_value) #dot_await;
            __cachemacro_value
        }

        #[doc = #doc_invalidate]
        #(#companion_attrs)*
        #[allow(unused_variables)]
        #vis #asyncness fn #invalidate #generics (#receiver_param #(#params),*) -> ::core::primitive::bool #where_clause {
            let __cachemacro_cache = #cache_ref;
            __cachemacro_cache.#invalidate_call(#key_call) #dot_await
        }

        #[doc = #doc_cache]
        #(#companion_attrs)*
        #vis fn #cache() -> &'static #cache_ty {
            static __CACHEMACRO_CACHE: ::std::sync::LazyLock<#cache_ty> =
                ::std::sync::LazyLock::new(|| {
                    #new_cache(#krate::__private::FnConfig {
                        name: #fn_name,
                        version: #version,
                        ttl_ms: #ttl_ms,
                        capacity: #capacity,
                        refresh_after_ms: #refresh_after_ms,
                        ret_type: ::core::stringify!(#ret),
                        lock: #krate::__private::Lock::#lock,
                        lock_ttl_ms: #lock_ttl_ms,
                    })
                });
            &__CACHEMACRO_CACHE
        }

        #warm

        #[doc(hidden)]
        #(#companion_attrs)*
        #[inline(always)]
        #[allow(unused_variables, clippy::ptr_arg, clippy::trivially_copy_pass_by_ref)]
        fn #key_fn #generics (
            #key_receiver #(#key_params,)*
            mut __cachemacro_out: impl #krate::key::KeyHasher,
        ) -> ::core::primitive::u128 #where_clause {
            #key_self_write
            #(#key_writes)*
            __cachemacro_out.finish()
        }
    }
}

/// Writes the value of `key = <expr>`. Its arguments are borrowed (`x: T` is a `&T` there), as the
/// key function takes them; the write is spanned on the expression, so a value without a key is
/// reported there, with `KeyExpr`'s advice.
fn key_expr_write(krate: &TokenStream, expr: &syn::Expr) -> TokenStream {
    let span = expr.span();
    quote_spanned!(span=> #krate::__private::KeyExpr::write_expr(&(#expr), &mut __cachemacro_out);)
}

/// The lookup of a function with `refresh = "background"`. The runtime holds the arguments: on a
/// miss it hands them to the body, on a stale hit it lends them to the job builder, which makes
/// owned copies (`Clone`, or `ToOwned` for references, and `Clone` for `self`) for a job that runs
/// later on the pool.
fn refreshing_lookup(
    krate: &TokenStream,
    func: &Func,
    this: &Option<TokenStream>,
    uncached: &Ident,
    cacheable: &TokenStream,
) -> TokenStream {
    let is_async = func.item.sig.asyncness.is_some();
    let self_name = func.receiver.as_ref().map(|_| quote!(__cachemacro_this,));
    let self_arg = func.receiver.as_ref().map(|_| quote!(self,));
    let names: Vec<&Ident> = func.args.iter().map(|arg| &arg.ident).collect();
    let owned: Vec<Ident> = names
        .iter()
        .map(|name| format_ident!("__cachemacro_owned_{}", name))
        .collect();
    let copies = func.args.iter().zip(&owned).map(|(arg, owned)| {
        // Spanned on the type's name, so an argument that cannot be copied is reported there.
        let span = type_name_span(&arg.ty);
        let name = Ident::new(&arg.ident.to_string(), span);
        // `name` is bound to `&A`: a reference argument copies its referent (`&str` -> `String`).
        let derefs = (0..reference_depth(&arg.ty)).map(|_| quote_spanned!(span=> *));
        quote_spanned!(span=>
            let #owned = #krate::__private::RefreshArg::to_refresh(#(#derefs)* #name);
        )
    });
    let passed = func.args.iter().zip(&owned).map(|(arg, owned)| {
        if matches!(arg.ty, Type::Reference(_)) {
            quote!(&#owned)
        } else {
            quote!(#owned)
        }
    });
    let (self_copy, self_passed) = match &func.receiver {
        Some(recv) => (
            Some(
                quote_spanned!(recv.self_token.span=> let __cachemacro_owned_self = #krate::__private::RefreshArg::to_refresh(*__cachemacro_this);),
            ),
            Some(quote!(&__cachemacro_owned_self,)),
        ),
        None => (None, None),
    };
    let job_call = quote!(#this #uncached(#self_passed #(#passed),*));
    let (get, job, body, dot_await) = if is_async {
        (
            quote!(get_or_compute_refreshing_async),
            quote!(async move { #job_call.await }),
            quote!(|(#self_name #(#names,)*)| #this #uncached(#self_name #(#names),*)),
            quote!(.await),
        )
    } else {
        (
            quote!(get_or_compute_refreshing),
            quote!(move || #job_call),
            quote!(|(#self_name #(#names,)*)| #this #uncached(#self_name #(#names),*)),
            quote!(),
        )
    };
    quote! {
        __cachemacro_cache.#get(
            __cachemacro_key,
            #cacheable,
            (#self_arg #(#names,)*),
            #body,
            |(#self_name #(#names,)*)| {
                #self_copy
                #(#copies)*
                #job
            },
        ) #dot_await
    }
}

/// What [`warm_companions`] needs of the expansion.
struct Warm<'a> {
    krate: &'a TokenStream,
    func: &'a Func,
    this: &'a Option<TokenStream>,
    uncached: &'a Ident,
    cache_ref: &'a TokenStream,
    key_call: &'a TokenStream,
    cacheable: &'a TokenStream,
    companion_attrs: &'a [&'a Attribute],
}

/// `f_warm(items)`, and the hidden step it takes per item: look the call up, compute and store it
/// if missing (see the runtime's `warm` module).
///
/// A sync `f_warm` runs items on several threads, so it needs `Send` items (and a `Sync` `self`);
/// it states that on its own generic parameter, so a function whose arguments are not `Send`
/// still compiles and only a call of `f_warm` fails. Its items are named only through a function
/// pointer type, which may elide lifetimes (`&str`, `Cow<str>`). An async `f_warm` polls its items
/// in the caller's task, and names them in a bound with every elided lifetime made explicit (an
/// async fn cannot hide a lifetime in a path, so all of them are visible).
fn warm_companions(warm: &Warm<'_>) -> TokenStream {
    let Warm {
        krate,
        func,
        this,
        uncached,
        cache_ref,
        key_call,
        cacheable,
        companion_attrs,
    } = *warm;
    let arity = func.args.len();
    if arity > MAX_WARM_ARGS {
        return TokenStream::new();
    }
    let name = func.name();
    let vis = &func.item.vis;
    let is_async = func.item.sig.asyncness.is_some();
    let asyncness = &func.item.sig.asyncness;
    let warm_fn = format_ident!("{}_warm", name);
    let one = format_ident!("__cachemacro_{}_warm_one", name);
    let receiver = &func.receiver;
    let names: Vec<&Ident> = func.args.iter().map(|arg| &arg.ident).collect();
    let types: Vec<&Type> = func.args.iter().map(|arg| &arg.ty).collect();
    let params = quote!(#(#names: #types),*);
    let self_arg = receiver.as_ref().map(|_| quote!(self,));
    let lifetimes: Vec<_> = func.item.sig.generics.lifetimes().collect();
    let where_clause = func
        .item
        .sig
        .generics
        .where_clause
        .as_ref()
        .map(|clause| &clause.predicates);
    let item_pattern = match arity {
        1 => quote!(#(#names)*),
        _ => quote!((#(#names,)*)),
    };
    let (dot_await, warm_call, body) = if is_async {
        (
            quote!(.await),
            quote!(warm_async),
            quote!(#this #uncached(#self_arg #(#names),*)),
        )
    } else {
        (
            quote!(),
            quote!(warm),
            quote!(move || #this #uncached(#self_arg #(#names),*)),
        )
    };
    // A sync step takes a context first (`&self`, or `()`), as `__private::warm` passes it.
    let step_context = match (receiver, is_async) {
        (Some(recv), _) => quote!(#recv,),
        (None, false) => quote!(_: (),),
        (None, true) => quote!(),
    };
    let doc = format!(
        "Computes and stores [`{name}`] for each of `items` that is not cached yet, a few at a \
         time; each item is the function's arguments (a tuple of them when there are several). \
         See `cachemacro_runtime::warm`."
    );
    let step = quote! {
        #[doc(hidden)]
        #(#companion_attrs)*
        #[allow(clippy::ptr_arg, clippy::trivially_copy_pass_by_ref, clippy::too_many_arguments)]
        #asyncness fn #one<#(#lifetimes),*>(#step_context #params) -> #krate::__private::Warmed
        where #where_clause
        {
            let __cachemacro_cache = #cache_ref;
            let __cachemacro_key = #key_call;
            __cachemacro_cache.#warm_call(__cachemacro_key, #cacheable, #body) #dot_await
        }
    };
    let items = quote!(__CachemacroItems);
    let item = quote!(<#items as ::core::iter::IntoIterator>::Item);
    let companion = if is_async {
        let explicit: Vec<Type> = types
            .iter()
            .map(|ty| {
                let mut ty = (*ty).clone();
                name_elided_lifetimes(&mut ty);
                ty
            })
            .collect();
        let item_type = match arity {
            1 => quote!(#(#explicit)*),
            _ => quote!((#(#explicit,)*)),
        };
        let receiver_param = receiver.as_ref().map(|recv| quote!(#recv,));
        quote! {
            #[doc = #doc]
            #(#companion_attrs)*
            #vis async fn #warm_fn<#(#lifetimes,)* '__cachemacro_items, #items>(
                #receiver_param items: #items,
            ) -> #krate::WarmReport
            where
                #items: ::core::iter::IntoIterator<Item = #item_type>,
                #where_clause
            {
                #krate::__private::warm_async(items, |#item_pattern| async move {
                    #this #one(#self_arg #(#names),*).await
                })
                .await
            }
        }
    } else {
        // `self`'s lifetime as written (`&'a self`), else one of f_warm's own.
        let self_lifetime = match receiver.as_ref().and_then(|recv| recv.lifetime()) {
            Some(lifetime) => (quote!(#lifetime), None),
            None => (
                quote!('__cachemacro_self),
                Some(quote!('__cachemacro_self,)),
            ),
        };
        let (self_lifetime, own_lifetime) = self_lifetime;
        let (receiver_param, context, context_type, pointer_context) = match receiver {
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
        quote! {
            #[doc = #doc]
            #(#companion_attrs)*
            #vis fn #warm_fn<#(#lifetimes,)* #own_lifetime #items>(
                #receiver_param items: #items,
            ) -> #krate::WarmReport
            where
                #items: ::core::iter::IntoIterator,
                (#item, #context_type): ::core::marker::Send,
                #pointer: #krate::__private::WarmCall<#context_type, #item, #arity>,
                #where_clause
            {
                #krate::__private::warm(#context, items, #this #one as #pointer)
            }
        }
    };
    quote!(#step #companion)
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

/// Attributes that must hold for the companions as they do for the function: conditional
/// compilation and lint levels. Others (`#[inline]`, `#[tracing::instrument]`, docs) stay on `f`.
fn is_passed_to_companions(attr: &Attribute) -> bool {
    [
        "cfg",
        "cfg_attr",
        "allow",
        "expect",
        "warn",
        "deny",
        "forbid",
        "deprecated",
    ]
    .iter()
    .any(|name| attr.path().is_ident(name))
}

/// The span of a type's name: `HashMap` in `&std::collections::HashMap<K, V>`. A span covers one
/// token on stable Rust, and the name is the token that says what the type is.
fn type_name_span(ty: &Type) -> Span {
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
fn result_parts(ty: &Type, krate: &TokenStream) -> (TokenStream, TokenStream) {
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
fn reference_depth(ty: &Type) -> usize {
    match ty {
        Type::Reference(reference) => 1 + reference_depth(&reference.elem),
        Type::Paren(inner) => reference_depth(&inner.elem),
        Type::Group(inner) => reference_depth(&inner.elem),
        _ => 0,
    }
}
