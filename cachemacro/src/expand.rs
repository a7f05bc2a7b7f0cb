//! Generates the memoized function and its companions from a checked [`Func`] and its resolved
//! [`Config`], which alone decides what is generated.
//!
//! The generated code stays small: the body lives once, in `f_uncached`; the cache is one `static`
//! inside `f_cache()`; everything else calls into the runtime. Paths are absolute (`::core`, the
//! runtime's path), so local items named `core`, `std` or `Result` change nothing.

mod key;
mod lints;
mod types;
mod warm;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{Attribute, Ident, Type};

use crate::config::{Backend, Cacheable, Config, Stored};
use crate::func::Func;
use crate::spans::{located_at, respan};
use types::{cache_span, reference_depth, result_parts, type_name_span};

/// What every generated item shares: the names and the pieces of calls.
pub(super) struct Parts<'a> {
    pub(super) config: &'a Config,
    pub(super) func: &'a Func,
    pub(super) krate: &'a TokenStream,
    /// `Self::` in a method: siblings of a method are associated functions.
    pub(super) this: Option<TokenStream>,
    /// `self,` in a method, to pass the receiver on.
    pub(super) self_arg: Option<TokenStream>,
    pub(super) arg_names: Vec<&'a Ident>,
    pub(super) uncached: Ident,
    /// `f_cache()`, through the proofs that the value can be cached (see [`cache_access`]).
    pub(super) cache_ref: TokenStream,
    /// Where the cache is named, if not on the call (see [`types::cache_span`]).
    pub(super) cache_span: Option<Span>,
    /// The key of the call's arguments, from the key function.
    pub(super) key_call: TokenStream,
    /// The closure that says whether a result is stored.
    pub(super) cacheable: TokenStream,
    /// Conditional compilation and lint levels, which hold for the companions as for `f`; an
    /// `expect` as `allow` (see [`lints::expect_as_allow`]).
    pub(super) companion_attrs: Vec<Attribute>,
    /// `f`'s `#[target_feature]`s, for every generated item that runs the body (`f_uncached`,
    /// `f_refresh`, `f_warm` and its step): the body is compiled with them, and these items are
    /// called as `f` is. Closures inside them inherit the features, so the runtime's calls
    /// through them need no `unsafe`.
    pub(super) feature_attrs: Vec<&'a Attribute>,
    /// `#[allow(deprecated)]` when `f` is deprecated, for the generated items that call its
    /// (deprecated) companions.
    pub(super) calls_deprecated: Option<TokenStream>,
    /// `.await` in an async function.
    pub(super) dot_await: TokenStream,
}

pub(crate) fn expand(config: &Config, func: &Func) -> TokenStream {
    let name = func.name();
    let krate = &config.krate;
    let key_fn = format_ident!("__cachemacro_{}_key", name);
    let this = func.receiver.as_ref().map(|_| quote!(Self::));
    let cache = format_ident!("{}_cache", name);
    let cache_span = cache_span(&func.ret, config.stored != Stored::Whole);
    let on_cache = |tokens: TokenStream| match cache_span {
        Some(span) => respan(tokens, span),
        None => tokens,
    };
    let cache_call = on_cache(quote!(#this #cache()));
    let access = cache_access(config, func, &cache_call);
    let parts = Parts {
        config,
        func,
        krate,
        self_arg: func.receiver.as_ref().map(|_| quote!(self,)),
        arg_names: func.args.iter().map(|arg| &arg.ident).collect(),
        uncached: format_ident!("{}_uncached", name),
        cache_ref: access.cache_ref.clone(),
        cache_span,
        // The hasher comes from the cache: in process it carries the cache's own random seeds.
        key_call: key::key_call(config, func, &this, &key_fn),
        this,
        cacheable: cacheable(config, &func.ret, krate),
        companion_attrs: func
            .item
            .attrs
            .iter()
            .filter(|attr| is_passed_to_companions(attr))
            .filter_map(lints::expect_as_allow)
            .collect(),
        feature_attrs: (func.item.attrs.iter())
            .filter(|attr| attr.path().is_ident("target_feature"))
            .collect(),
        calls_deprecated: lints::is_deprecated(&func.item.attrs)
            .then(|| quote!(#[allow(deprecated)])),
        dot_await: if config.is_async {
            quote!(.await)
        } else {
            quote!()
        },
    };
    let memoized = memoized_fn(&parts);
    let companions = companions(&parts);
    let cache_fn = cache_fn(&parts, &cache, &access);
    let warm = warm::companions(&parts);
    let key_fn = key::key_function(&parts, &key_fn);
    let expansion = quote! {
        #memoized
        #companions
        #cache_fn
        #warm
        #key_fn
    };
    match config.redis_span {
        Some(span) => needs_redis_feature(config, func, span, expansion),
        None => expansion,
    }
}

/// Hands the expansion to the runtime, which keeps it if it was built with its `redis` feature,
/// and otherwise reports on the `"redis"` literal (`span`) the feature to enable, beside the
/// function unchanged. The invocation carries the literal's span, every token of it, so that the
/// error is reported there.
fn needs_redis_feature(
    config: &Config,
    func: &Func,
    span: Span,
    expansion: TokenStream,
) -> TokenStream {
    let krate = crate::spans::respan(config.krate.clone(), span);
    let unchanged = func.item.to_token_stream();
    quote_spanned! {span=>
        #krate::__private::redis_backend! { { #unchanged } { #expansion } }
    }
}

impl Parts<'_> {
    /// `vis async fn name<G>(&self, a: A, ...) -> ret where ...`, for `f` and its companions of the
    /// same arguments.
    fn signature(&self, name: &Ident, ret: TokenStream) -> TokenStream {
        let item = &self.func.item;
        let (vis, asyncness, generics) = (&item.vis, &item.sig.asyncness, &item.sig.generics);
        let where_clause = &generics.where_clause;
        let receiver = self.func.receiver.as_ref().map(|recv| quote!(#recv,));
        let params = self.func.args.iter().map(|arg| {
            let (ident, ty) = (&arg.ident, &arg.ty);
            quote!(#ident: #ty)
        });
        quote!(#vis #asyncness fn #name #generics (#receiver #(#params),*) -> #ret #where_clause)
    }

    /// The arguments as a tuple, and a closure that captures nothing (a function pointer) that
    /// calls `f_uncached` with them: the runtime's slow path is then the same code for every
    /// function of one signature.
    pub(super) fn args_and_body(&self) -> (TokenStream, TokenStream) {
        let Parts {
            this,
            uncached,
            self_arg,
            arg_names,
            ..
        } = self;
        let self_name = self
            .func
            .receiver
            .as_ref()
            .map(|_| quote!(__cachemacro_this,));
        (
            quote!((#self_arg #(#arg_names,)*)),
            quote!(|(#self_name #(#arg_names,)*)| #this #uncached(#self_name #(#arg_names),*)),
        )
    }

    /// The call of `f_uncached` without its `.await`: the future, for `store_async`.
    fn uncached_future(&self) -> TokenStream {
        let Parts {
            this,
            uncached,
            self_arg,
            arg_names,
            ..
        } = self;
        quote!(#this #uncached(#self_arg #(#arg_names),*))
    }

    /// `f_uncached(self, a, ...)`, awaited in an async function.
    fn uncached_call(&self) -> TokenStream {
        let (call, dot_await) = (self.uncached_future(), &self.dot_await);
        quote!(#call #dot_await)
    }
}

/// `f` itself: a bypass check on Redis, then the lookup.
fn memoized_fn(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        func,
        cache_ref,
        key_call,
        calls_deprecated,
        ..
    } = parts;
    // The user's attributes, an `expect` kept on `f_uncached` alone.
    let user_attrs = func.item.attrs.iter().filter_map(lints::expect_as_allow);
    let signature = parts.signature(func.name(), func.ret.to_token_stream());
    // The in-process store sees a bypass in the thread-local it reads anyway; a Redis call is
    // checked here.
    let bypass = match parts.config.backend {
        Backend::Memory => None,
        Backend::Redis => {
            let (krate, uncached_call) = (parts.krate, parts.uncached_call());
            Some(quote! {
                if #krate::__private::bypassed() {
                    return #uncached_call;
                }
            })
        }
    };
    let lookup = lookup(parts);
    quote! {
        #(#user_attrs)*
        #calls_deprecated
        #signature {
            #bypass
            let __cachemacro_cache = #cache_ref;
            let __cachemacro_key = #key_call;
            #lookup
        }
    }
}

/// The lookup in `f`: look the key up, run the body on a miss, store what is cacheable.
fn lookup(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        config,
        this,
        uncached,
        self_arg,
        arg_names,
        cacheable,
        dot_await,
        ..
    } = parts;
    if config.refresh_after_ms > 0 {
        return refreshing_lookup(parts);
    }
    if config.is_async {
        let body = quote!(#this #uncached(#self_arg #(#arg_names),*));
        return quote!(
            __cachemacro_cache.get_or_compute_async(__cachemacro_key, #cacheable, #body) #dot_await
        );
    }
    let (args, body) = parts.args_and_body();
    // A constant, so that the inlined hit of a function without a `ttl` reads no clock.
    let expires = config.ttl_ms > 0;
    quote!(__cachemacro_cache.get_or_compute(__cachemacro_key, #expires, #cacheable, #args, #body))
}

/// `f_uncached` (the body), `f_refresh` (run and store) and `f_invalidate` (remove). The last two
/// are `#[inline]`: compiled where they are called, so a crate that calls neither compiles
/// neither (the `#[inline]` of a non-generic function defers its code generation to its callers).
fn companions(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        func,
        uncached,
        cache_ref,
        key_call,
        cacheable,
        companion_attrs,
        feature_attrs,
        calls_deprecated,
        dot_await,
        ..
    } = parts;
    let name = func.name();
    // `f_uncached` carries the user's attributes as written: it holds the user's code, so an
    // `#[expect(...)]` is fulfilled (or not) there.
    let uncached_attrs = (func.item.attrs.iter())
        .filter(|attr| is_passed_to_companions(attr) || attr.path().is_ident("target_feature"));
    // And `f`'s answers to the lints that speak for the function there (see
    // `lints::uncached_answers`).
    let (must_use, doc_sections) = lints::uncached_answers(&func.item.attrs, name);
    let uncached_sig = {
        let mut sig = func.item.sig.clone();
        sig.ident = uncached.clone();
        sig
    };
    let (vis, body) = (&func.item.vis, &func.item.block);
    let ret = func.ret.to_token_stream();
    let refresh = parts.signature(&format_ident!("{}_refresh", name), ret);
    let invalidate = parts.signature(
        &format_ident!("{}_invalidate", name),
        quote!(::core::primitive::bool),
    );
    let (store, invalidate_call) = if parts.config.is_async {
        (quote!(store_async), quote!(invalidate_async))
    } else {
        (quote!(store), quote!(invalidate))
    };
    let refresh_body = if parts.config.is_async {
        parts.uncached_future()
    } else {
        let call = parts.uncached_call();
        quote!(|| #call)
    };
    // `f_invalidate` uses its arguments only to make the key, so those out of the key go unused.
    let unused_allowed =
        (parts.config.key.args.len() < func.args.len()).then(|| quote!(#[allow(unused_variables)]));
    // The companions' docs name the function without an intra-doc link: a `[` makes rustc
    // parse each doc as Markdown for links at every build, 14 million instructions of the
    // 200-function crate's touch rebuild (`BENCHMARKS.md`, "Compile cost").
    let doc_uncached = format!("Runs `{name}` without reading or writing its cache.");
    // Spanned on the user's name: clippy reads no section of a doc of a generated span.
    let doc_sections = (!doc_sections.is_empty()).then(|| {
        let text = syn::LitStr::new(&doc_sections, name.span());
        quote_spanned!(name.span()=> #[doc = #text])
    });
    let doc_refresh =
        format!("Runs `{name}`'s body now and stores the result in its cache (prime or put).");
    let doc_invalidate = format!(
        "Removes `{name}`'s cache entry for these arguments; `true` if there was a live one."
    );
    quote! {
        #[doc = #doc_uncached]
        #doc_sections
        #(#uncached_attrs)*
        #(#must_use)*
        #vis #uncached_sig #body

        #[doc = #doc_refresh]
        #(#companion_attrs)*
        #(#feature_attrs)*
        #[inline]
        #calls_deprecated
        #refresh {
            let __cachemacro_cache = #cache_ref;
            // The key borrows the arguments before the body takes them. The body runs inside
            // `store`, which notes the key's invalidations before it.
            __cachemacro_cache.#store(#key_call, #cacheable, #refresh_body) #dot_await
        }

        #[doc = #doc_invalidate]
        #(#companion_attrs)*
        #[inline]
        #unused_allowed
        #calls_deprecated
        #invalidate {
            let __cachemacro_cache = #cache_ref;
            __cachemacro_cache.#invalidate_call(#key_call) #dot_await
        }
    }
}

/// The cache's type, its constructor, and the way `f` and its companions reach it.
struct CacheAccess {
    ty: TokenStream,
    /// How the `static` is made: a constant `__private::MemoryCell` (nothing to
    /// prove, the cheapest to compile), or a `LazyLock` over a constructor given the config.
    new: CacheNew,
    cache_ref: TokenStream,
}

enum CacheNew {
    /// `__private::MemoryCell<kept>`: the in-process cache without `max_bytes`.
    Cell(TokenStream),
    /// A constructor called with the `FnConfig` on first use.
    Lazy(TokenStream),
}

/// Every use of the cache goes through proofs that what it keeps can be cached: for a type that
/// cannot, each is the one error, on that type, instead of one per use (see
/// `__private::CacheValue`).
fn cache_access(config: &Config, func: &Func, cache_call: &TokenStream) -> CacheAccess {
    let krate = &config.krate;
    let ret = &func.ret;
    // With `cache_err = true` the `Ok` and error types are proved apart, so that an error type
    // that cannot be cached is reported on itself, with the advice to drop `cache_err`.
    let (kept, layout, split) = match config.stored {
        Stored::Whole => (quote!(#ret), quote!(), None),
        Stored::OkOnly => {
            let (ok, _) = result_parts(ret, krate);
            (ok, quote!(, #krate::__private::OkOnly), None)
        }
        Stored::WholeResult => (quote!(#ret), quote!(), Some(result_parts(ret, krate))),
    };
    let proof = |value: TokenStream, error: TokenStream| match &split {
        Some((ok, err)) => quote!(
            <#ok as #krate::__private::#value<_>>::proof()
                .and_err(<#err as #krate::__private::#error<_>>::proof())
        ),
        None => quote!(<#kept as #krate::__private::#value<_>>::proof()),
    };
    let cache_proof = proof(quote!(CacheValue), quote!(CachedError));
    match config.backend {
        Backend::Memory => CacheAccess {
            ty: quote!(#krate::MemoryCache<#kept #layout>),
            // With `max_bytes`, a second proof reports a type without `CacheSize` once, on the
            // type that is kept (see `__private::SizeValue`).
            new: match config.max_bytes {
                Some(max_bytes) => {
                    let size_proof = proof(quote!(SizeValue), quote!(SizeValue));
                    CacheNew::Lazy(quote!((|__cachemacro_config| #size_proof
                        .memory_cache(#cache_proof, __cachemacro_config, #max_bytes))))
                }
                // The proof is made where the cache is used (`cache_ref`), not here.
                None => CacheNew::Cell(quote!(#krate::__private::MemoryCell<#kept #layout>)),
            },
            cache_ref: quote!(#cache_proof.pass(#cache_call)),
        },
        Backend::Redis => {
            // A second proof reports a type without serde once, on the type that is stored (see
            // `__private::StoredValue`).
            let stored_proof = proof(quote!(StoredValue), quote!(StoredError));
            let ty = quote!(#krate::RedisCache<#kept #layout>);
            let new = match config.near {
                Some((capacity, near_ttl_ms)) => quote!(
                    (|__cachemacro_config| <#ty>::new_near(__cachemacro_config, #capacity, #near_ttl_ms))
                ),
                None => quote!(<#ty>::new),
            };
            let new = CacheNew::Lazy(new);
            CacheAccess {
                new,
                ty,
                cache_ref: quote!(#cache_proof.pass(#stored_proof.pass(#cache_call))),
            }
        }
    }
}

/// `f_cache()`: the cache, one `static` built on first use from the function's configuration.
fn cache_fn(parts: &Parts<'_>, cache: &Ident, access: &CacheAccess) -> TokenStream {
    let Parts {
        config,
        func,
        krate,
        companion_attrs,
        cache_span,
        ..
    } = parts;
    let name = func.name();
    let vis = &func.item.vis;
    let ret = &func.ret;
    let CacheAccess { ty, new, .. } = access;
    let cache_type = match cache_span {
        Some(span) => respan(quote!(&'static #ty), *span),
        None => quote!(&'static #ty),
    };
    let fn_name = match &config.name {
        Some(explicit) => quote!(#explicit),
        None => {
            let suffix = format!("::{name}");
            quote!(::core::concat!(::core::module_path!(), #suffix))
        }
    };
    // Only the options that differ from `FnConfig::new`'s defaults are written out.
    let (version, ttl_ms) = (config.version, config.ttl_ms);
    let (refresh_after_ms, lock_ttl_ms) = (config.refresh_after_ms, config.lock_ttl_ms);
    let mut set = Vec::new();
    if version != 0 {
        set.push(quote!(version: #version,));
    }
    if ttl_ms != 0 {
        set.push(quote!(ttl_ms: #ttl_ms,));
    }
    if let Some(capacity) = config.capacity {
        set.push(quote!(capacity: #capacity,));
    }
    if refresh_after_ms != 0 {
        set.push(quote!(refresh_after_ms: #refresh_after_ms,));
    }
    if config.lock != crate::config::Lock::Process {
        let lock = config.lock.variant();
        set.push(quote!(lock: #krate::__private::Lock::#lock,));
    }
    if lock_ttl_ms != 0 {
        set.push(quote!(lock_ttl_ms: #lock_ttl_ms,));
    }
    let defaults = quote!(#krate::__private::FnConfig::new(#fn_name, ::core::stringify!(#ret)));
    let fn_config = if set.is_empty() {
        defaults
    } else {
        quote!(#krate::__private::FnConfig { #(#set)* ..#defaults })
    };
    let doc = match config.backend {
        Backend::Memory => format!("The cache behind `{name}`: statistics, `clear()`, `len()`."),
        Backend::Redis => format!(
            "The Redis cache behind `{name}`: statistics, `clear()` and `clear_async()`, `len()`, \
             and `configure()` to point it at its own Redis (URL, namespace, timeout)."
        ),
    };
    let body = match new {
        CacheNew::Cell(cell) => quote! {
            static __CACHEMACRO_CACHE: #cell = #krate::__private::MemoryCell::new(#fn_config);
            __CACHEMACRO_CACHE.get()
        },
        CacheNew::Lazy(new) => quote! {
            static __CACHEMACRO_CACHE: ::std::sync::LazyLock<#ty> =
                ::std::sync::LazyLock::new(|| {
                    #new(#fn_config)
                });
            &__CACHEMACRO_CACHE
        },
    };
    quote! {
        #[doc = #doc]
        #(#companion_attrs)*
        #vis fn #cache() -> #cache_type {
            #body
        }
    }
}

/// The function that says whether a result is stored: a path, not a closure, so that functions
/// of one return type share it (and the runtime's code that takes it).
fn cacheable(config: &Config, ret: &Type, krate: &TokenStream) -> TokenStream {
    let _ = ret;
    match config.cacheable {
        Cacheable::Ok => quote!(::core::result::Result::is_ok),
        Cacheable::Some => quote!(::core::option::Option::is_some),
        Cacheable::Every => quote!(#krate::__private::every),
    }
}

/// The lookup of a function with `refresh = "background"`. The runtime holds the arguments: on a
/// miss it hands them to the body, on a stale hit it lends them to the job builder, which makes
/// owned copies (`Clone`, or `ToOwned` for references, and `Clone` for `self`) for a job that runs
/// later on the pool.
fn refreshing_lookup(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        krate,
        func,
        this,
        uncached,
        cacheable,
        arg_names: names,
        ..
    } = parts;
    let is_async = parts.config.is_async;
    let self_name = func.receiver.as_ref().map(|_| quote!(__cachemacro_this,));
    let (args, body) = parts.args_and_body();
    let owned: Vec<Ident> = names
        .iter()
        .map(|name| format_ident!("__cachemacro_owned_{}", name))
        .collect();
    let copies = func.args.iter().zip(&owned).map(|(arg, owned)| {
        // Spanned on the type's name, so an argument that cannot be copied is reported there.
        let span = type_name_span(&arg.ty);
        let name = located_at(&arg.ident, span);
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
    let (get, job, dot_await) = if is_async {
        (
            quote!(get_or_compute_refreshing_async),
            quote!(async move { #job_call.await }),
            quote!(.await),
        )
    } else {
        (
            quote!(get_or_compute_refreshing),
            quote!(move || #job_call),
            quote!(),
        )
    };
    quote! {
        __cachemacro_cache.#get(
            __cachemacro_key,
            #cacheable,
            #args,
            #body,
            |(#self_name #(#names,)*)| {
                #self_copy
                #(#copies)*
                #job
            },
        ) #dot_await
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
