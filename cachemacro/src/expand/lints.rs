//! What the generated items carry so that the expansion warns of nothing in the user's crate
//! (`#![deny(warnings)]`, `clippy::pedantic`) and the user's lints still speak: the user's lint
//! levels, each where it applies; `allow(deprecated)` where generated code calls deprecated
//! companions; and on `f_uncached`, where clippy judges the function, `f`'s answers to clippy.

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{Attribute, Meta, Token};

/// The user's attributes as the generated items other than `f_uncached` carry them: each
/// `#[expect(...)]` (also inside `#[cfg_attr(...)]`) becomes `#[allow(...)]`. An expectation is
/// kept where the user's code is, `f_uncached` (the body and the signature as written);
/// elsewhere it would be unfulfilled, since the generated code does not trip the lint (an
/// argument unused in the body is used by `f`, for one).
///
/// `dead_code` (and `unused`, which holds it) is left out instead: an item that allows it is a
/// root of the dead-code analysis, so `f` allowing it would make `f_uncached` live and its
/// expectation unfulfilled (the dead-code lint names `f_uncached` alone, the other items having
/// generated spans). `None` when nothing is left of the attribute.
pub(super) fn expect_as_allow(attr: &Attribute) -> Option<Attribute> {
    match rewrite(&attr.meta) {
        Rewrite::Keep => Some(attr.clone()),
        Rewrite::Remove => None,
        Rewrite::Replace(meta) => {
            let mut attr = attr.clone();
            attr.meta = *meta;
            Some(attr)
        }
    }
}

enum Rewrite {
    Keep,
    Replace(Box<Meta>),
    Remove,
}

fn rewrite(meta: &Meta) -> Rewrite {
    let Meta::List(list) = meta else {
        return Rewrite::Keep;
    };
    let Ok(parts) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) else {
        return Rewrite::Keep;
    };
    if list.path.is_ident("expect") {
        // The lints and a `reason = "..."`.
        let kept: Punctuated<Meta, Token![,]> = parts
            .into_iter()
            .filter(|part| !(part.path().is_ident("dead_code") || part.path().is_ident("unused")))
            .collect();
        if kept.iter().all(|part| matches!(part, Meta::NameValue(_))) {
            return Rewrite::Remove;
        }
        let mut list = list.clone();
        let span = list.path.segments[0].ident.span();
        list.path = syn::Ident::new("allow", span).into();
        list.tokens = kept.into_token_stream();
        return Rewrite::Replace(Box::new(Meta::List(list)));
    }
    if !list.path.is_ident("cfg_attr") {
        return Rewrite::Keep;
    }
    // `cfg_attr(predicate, attr, ...)`: the predicate parses as a `Meta` too.
    let mut changed = false;
    let mut kept = Punctuated::<Meta, Token![,]>::new();
    for (i, part) in parts.into_iter().enumerate() {
        match (i, rewrite(&part)) {
            (0, _) | (_, Rewrite::Keep) => kept.push(part),
            (_, Rewrite::Replace(meta)) => {
                changed = true;
                kept.push(*meta);
            }
            (_, Rewrite::Remove) => changed = true,
        }
    }
    if !changed {
        return Rewrite::Keep;
    }
    // Only the predicate left: a `cfg_attr` of no attribute is itself linted.
    if kept.len() < 2 {
        return Rewrite::Remove;
    }
    let mut list = list.clone();
    list.tokens = kept.into_token_stream();
    Rewrite::Replace(Box::new(Meta::List(list)))
}

/// Whether `f` is deprecated (perhaps under `cfg_attr`): its companions are then deprecated too,
/// so that the user's calls of them warn, and the generated code that calls them allows it.
pub(super) fn is_deprecated(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| deprecates(&attr.meta))
}

fn deprecates(meta: &Meta) -> bool {
    if meta.path().is_ident("deprecated") {
        return true;
    }
    let Meta::List(list) = meta else {
        return false;
    };
    list.path.is_ident("cfg_attr")
        && list
            .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .is_ok_and(|parts| parts.iter().skip(1).any(deprecates))
}

/// What `f_uncached` takes from `f` so that clippy judges it as it would judge `f`. Clippy leaves
/// items of generated spans alone, so `f_uncached`, which holds `f`'s signature and body, is where
/// `must_use_candidate`, `missing_errors_doc` and `missing_panics_doc` speak for the function; its
/// doc is generated. Returns `f`'s `#[must_use]` attributes, and the `# Errors` and `# Panics`
/// sections to add to `f_uncached`'s doc (each referring to `f`) for those that `f`'s docs have.
/// A doc that is not a literal (`#[doc = include_str!(..)]`) is taken to have both. A function
/// with `#[target_feature]` gives `f_uncached` a `# Safety` section too: clippy counts such a
/// function as unsafe (`missing_safety_doc`), and `f`'s own section cannot reach the copy.
pub(super) fn uncached_answers<'a>(
    attrs: &'a [Attribute],
    name: &syn::Ident,
) -> (Vec<&'a Attribute>, String) {
    let must_use = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("must_use"))
        .collect();
    let (mut errors, mut panics) = (false, false);
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("doc")) {
        let text = match &attr.meta {
            Meta::NameValue(syn::MetaNameValue {
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }),
                ..
            }) => text.value(),
            _ => {
                (errors, panics) = (true, true);
                continue;
            }
        };
        for line in text.lines() {
            let heading = line.trim_start();
            if let Some(title) = heading.strip_prefix('#') {
                let title = title.trim_start_matches('#').trim();
                errors |= title == "Errors";
                panics |= title == "Panics";
            }
        }
    }
    let mut doc = String::new();
    if attrs
        .iter()
        .any(|attr| attr.path().is_ident("target_feature"))
    {
        doc.push_str(&format!(
            "\n\n# Safety\n\nThat of `{name}`: the CPU must have the features it enables."
        ));
    }
    if errors {
        doc.push_str(&format!("\n\n# Errors\n\nThose of `{name}`."));
    }
    if panics {
        doc.push_str(&format!("\n\n# Panics\n\nWhen `{name}` panics."));
    }
    (must_use, doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn rewritten(attr: &str) -> String {
        let attrs = syn::Attribute::parse_outer
            .parse_str(attr)
            .expect("an attribute");
        expect_as_allow(&attrs[0])
            .map(|attr| attr.to_token_stream().to_string().replace(' ', ""))
            .unwrap_or_default()
    }

    #[test]
    fn expectations_become_allowances() {
        assert_eq!(
            rewritten("#[expect(unused_variables, reason = \"y\")]"),
            "#[allow(unused_variables,reason=\"y\")]"
        );
        assert_eq!(
            rewritten("#[cfg_attr(test, expect(unused_mut), inline)]"),
            "#[cfg_attr(test,allow(unused_mut),inline)]"
        );
        assert_eq!(
            rewritten("#[cfg_attr(all(unix, test), cfg_attr(debug_assertions, expect(x)))]"),
            "#[cfg_attr(all(unix,test),cfg_attr(debug_assertions,allow(x)))]"
        );
        assert_eq!(rewritten("#[allow(x)]"), "#[allow(x)]");
        assert_eq!(rewritten("#[allow(dead_code)]"), "#[allow(dead_code)]");
        // An allowed `dead_code` would make `f_uncached` live: it is left out.
        assert_eq!(
            rewritten("#[expect(dead_code, unused_variables, reason = \"y\")]"),
            "#[allow(unused_variables,reason=\"y\")]"
        );
        assert_eq!(rewritten("#[expect(dead_code, reason = \"y\")]"), "");
        assert_eq!(rewritten("#[expect(unused)]"), "");
        assert_eq!(rewritten("#[cfg_attr(test, expect(dead_code))]"), "");
        assert_eq!(
            rewritten("#[cfg_attr(test, expect(dead_code), inline)]"),
            "#[cfg_attr(test,inline)]"
        );
        assert_eq!(
            rewritten("#[cfg_attr(expect, allow(x))]"),
            "#[cfg_attr(expect,allow(x))]"
        );
    }

    #[test]
    fn uncached_answers_for_f() {
        let attrs = |text: &str| syn::Attribute::parse_outer.parse_str(text).unwrap();
        let name = syn::Ident::new("f", proc_macro2::Span::call_site());
        let both = attrs(
            "/// Does.\n///\n/// # Errors\n///\n/// When.\n///\n/// ## Panics\n#[must_use = \"x\"]",
        );
        let (must_use, doc) = uncached_answers(&both, &name);
        assert_eq!(must_use.len(), 1);
        assert_eq!(
            doc,
            "\n\n# Errors\n\nThose of `f`.\n\n# Panics\n\nWhen `f` panics."
        );
        let neither = attrs("/// Errors are rare.\n#[inline]");
        let (must_use, doc) = uncached_answers(&neither, &name);
        assert!(must_use.is_empty());
        assert_eq!(doc, "");
        let featured = attrs("/// Fast.\n#[target_feature(enable = \"avx2\")]");
        assert!(uncached_answers(&featured, &name).1.contains("# Safety"));
        let included = attrs("#[doc = include_str!(\"f.md\")]");
        assert!(uncached_answers(&included, &name).1.contains("# Panics"));
    }

    #[test]
    fn deprecation_is_seen_under_cfg_attr() {
        let attrs = |text: &str| syn::Attribute::parse_outer.parse_str(text).unwrap();
        assert!(is_deprecated(&attrs("#[deprecated]")));
        assert!(is_deprecated(&attrs("#[deprecated(note = \"x\")]")));
        assert!(is_deprecated(&attrs("#[deprecated = \"x\"]")));
        assert!(is_deprecated(&attrs("#[cfg_attr(test, deprecated)]")));
        assert!(!is_deprecated(&attrs(
            "#[cfg_attr(test, allow(deprecated))]"
        )));
        assert!(!is_deprecated(&attrs("#[allow(deprecated)]")));
        assert!(!is_deprecated(&attrs("#[doc = \"deprecated\"]")));
    }
}
