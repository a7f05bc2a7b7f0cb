//! A nesting limit for decoding values read from Redis.
//!
//! Deserializing a recursive type (`struct Node { children: Vec<Node> }`) recurses once per
//! level of the bytes, and postcard's bytes cost one byte per level: a megabyte written by anyone
//! who can write to Redis would overflow the reader's stack and abort the process. serde has no
//! depth limit of its own, postcard has none, and no maintained crate provides a generic one, so
//! this module wraps postcard's deserializer: every value nested in another (a sequence's element,
//! a map's key or value, an enum's tag or content, an option's content, a newtype's content, a
//! struct's or a tuple's field) is deserialized through the wrapper one level deeper, and a value
//! more than [`LIMIT`] levels deep is an error instead. Nothing else changes: every call is
//! forwarded, so a legal value decodes exactly as before.
//!
//! The decoded value is at most [`LIMIT`] levels deep too, so its own `Drop`, which recurses once
//! per level, is bounded as well.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

/// How deep a value may nest, counting every container: a `struct Node { children: Vec<Node> }`
/// costs two levels (the struct, then its `Vec`), so 256 is a chain of 128 nodes. Measured in a
/// debug build on a thread with a 2 MiB stack (a spawned thread's default, and tokio's), the
/// wrapper reaches 1,440 to 2,040 levels before overflowing, depending on the type (about 1 to 1.5
/// KiB of stack per level; a chain of 894 `Node`s), so the limit takes under a fifth of such a
/// stack, and far less in a release build or on an 8 MiB main thread.
pub(crate) const LIMIT: usize = 256;

/// Decodes a `T` from all of `bytes` (trailing bytes are an error), as `postcard::from_bytes`
/// does, but fails on values nested more than [`LIMIT`] levels deep instead of overflowing the
/// stack.
pub(crate) fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> postcard::Result<T> {
    let mut inner = postcard::Deserializer::from_bytes(bytes);
    let value = T::deserialize(Depth {
        inner: &mut inner,
        depth: 0,
    })?;
    if inner.finalize()?.is_empty() {
        Ok(value)
    } else {
        // Trailing bytes mean the stored value is not of this shape, even if a prefix decoded.
        Err(postcard::Error::DeserializeBadEncoding)
    }
}

/// `inner`, for a value nested `depth` levels deep, if that is not too deep.
fn nested<'de, D: Deserializer<'de>>(inner: D, depth: usize) -> Result<Depth<D>, D::Error> {
    if depth > LIMIT {
        // postcard's `custom` keeps no message (`SerdeDeCustom`), others would.
        return Err(D::Error::custom(format_args!(
            "nested more than {LIMIT} levels"
        )));
    }
    Ok(Depth { inner, depth })
}

/// A deserializer of a value `depth` levels deep.
struct Depth<D> {
    inner: D,
    depth: usize,
}

/// A visitor of a value `depth` levels deep: what it is given nests one level deeper.
struct DepthVisitor<V> {
    inner: V,
    depth: usize,
}

/// A seed of a value `depth` levels deep.
struct DepthSeed<S> {
    inner: S,
    depth: usize,
}

/// The elements, entries or variant of a value, each `depth` levels deep.
struct Nested<A> {
    inner: A,
    depth: usize,
}

impl<D> Depth<D> {
    fn visitor<V>(&self, visitor: V) -> DepthVisitor<V> {
        DepthVisitor {
            inner: visitor,
            depth: self.depth,
        }
    }
}

impl<V> DepthVisitor<V> {
    fn nested<A>(&self, access: A) -> Nested<A> {
        Nested {
            inner: access,
            depth: self.depth + 1,
        }
    }
}

impl<A> Nested<A> {
    fn seed<S>(&self, seed: S) -> DepthSeed<S> {
        DepthSeed {
            inner: seed,
            depth: self.depth,
        }
    }

    /// A visitor of a variant's fields, which nest a level deeper still, as a tuple's do.
    fn visitor<V>(&self, visitor: V) -> DepthVisitor<V> {
        DepthVisitor {
            inner: visitor,
            depth: self.depth,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let visitor = self.visitor(visitor);
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Depth<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any(),
        deserialize_bool(),
        deserialize_i8(),
        deserialize_i16(),
        deserialize_i32(),
        deserialize_i64(),
        deserialize_i128(),
        deserialize_u8(),
        deserialize_u16(),
        deserialize_u32(),
        deserialize_u64(),
        deserialize_u128(),
        deserialize_f32(),
        deserialize_f64(),
        deserialize_char(),
        deserialize_str(),
        deserialize_string(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_option(),
        deserialize_unit(),
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_seq(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_map(),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
        deserialize_identifier(),
        deserialize_ignored_any(),
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for DepthVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(nested(deserializer, self.depth + 1)?)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.inner
            .visit_newtype_struct(nested(deserializer, self.depth + 1)?)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let seq = self.nested(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let map = self.nested(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let data = self.nested(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for DepthSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(nested(deserializer, self.depth)?)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Nested<A> {
    type Error = A::Error;
    type Variant = Nested<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Nested<A::Variant>), A::Error> {
        let (depth, seed) = (self.depth, self.seed(seed));
        let (tag, variant) = self.inner.variant_seed(seed)?;
        Ok((
            tag,
            Nested {
                inner: variant,
                depth,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.visitor(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.visitor(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::fmt::Debug;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub(crate) struct Node {
        pub(crate) children: Vec<Node>,
    }

    /// A chain of `levels` nodes, each the only child of the one before.
    pub(crate) fn chain(levels: usize) -> Node {
        let mut node = Node { children: vec![] };
        for _ in 1..levels {
            node = Node {
                children: vec![node],
            };
        }
        node
    }

    /// The postcard bytes of [`chain`]`(levels)`: each `1` is a `Vec` of one node.
    pub(crate) fn chain_bytes(levels: usize) -> Vec<u8> {
        let mut bytes = vec![1; levels - 1];
        bytes.push(0);
        bytes
    }

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Unit;

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Newtype(Box<Option<String>>);

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    struct Pair(i8, char);

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    enum Shape {
        Empty,
        Circle(f64),
        Rect(f32, f32),
        Named { name: String, sides: Vec<u16> },
        Boxed(Box<Shape>),
    }

    #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
    pub(crate) struct Everything {
        flag: bool,
        small: (u8, u16, u32, u64, u128),
        signed: (i8, i16, i32, i64, i128),
        real: f64,
        text: String,
        letters: Vec<char>,
        bytes: Vec<u8>,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        tuple_struct: Pair,
        shapes: Vec<Shape>,
        maybe: Option<Option<u32>>,
        nothing: Option<Shape>,
        by_name: BTreeMap<String, Vec<Shape>>,
        by_id: HashMap<u64, (String, Option<Pair>)>,
        array: [u32; 3],
        tree: Node,
    }

    pub(crate) fn everything() -> Everything {
        Everything {
            flag: true,
            small: (u8::MAX, 300, 70_000, u64::MAX, u128::MAX),
            signed: (i8::MIN, -300, i32::MIN, -1, i128::MIN),
            real: -1.5e300,
            text: "héllo, wörld".to_owned(),
            letters: vec!['a', 'é', '😀'],
            bytes: vec![0, 1, 255],
            unit: (),
            unit_struct: Unit,
            newtype: Newtype(Box::new(Some("inner".to_owned()))),
            tuple_struct: Pair(-7, 'z'),
            shapes: vec![
                Shape::Empty,
                Shape::Circle(2.5),
                Shape::Rect(1.0, -0.5),
                Shape::Named {
                    name: "hexagon".to_owned(),
                    sides: vec![1; 6],
                },
                Shape::Boxed(Box::new(Shape::Boxed(Box::new(Shape::Empty)))),
            ],
            maybe: Some(None),
            nothing: None,
            by_name: BTreeMap::from([
                ("none".to_owned(), vec![]),
                ("two".to_owned(), vec![Shape::Empty, Shape::Circle(0.0)]),
            ]),
            by_id: HashMap::from([
                (1, ("one".to_owned(), Some(Pair(1, '1')))),
                (2, (String::new(), None)),
            ]),
            array: [7, 8, 9],
            tree: Node {
                children: vec![chain(3), Node { children: vec![] }, chain(2)],
            },
        }
    }

    /// `value` decodes through the limit exactly as through postcard alone, and so do its bytes
    /// cut short or with a byte more (the same errors).
    fn same_as_postcard<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
        let bytes = postcard::to_stdvec(value).unwrap();
        assert_eq!(from_bytes::<T>(&bytes).as_ref(), Ok(value));
        for end in 0..bytes.len() {
            assert_eq!(
                from_bytes::<T>(&bytes[..end]),
                postcard::from_bytes::<T>(&bytes[..end]),
                "cut at {end}"
            );
        }
        let mut longer = bytes;
        longer.push(0);
        assert_eq!(
            from_bytes::<T>(&longer),
            Err(postcard::Error::DeserializeBadEncoding)
        );
    }

    #[test]
    fn legal_values_decode_as_without_the_limit() {
        same_as_postcard(&everything());
        same_as_postcard(&vec![everything(); 3]);
        same_as_postcard(&Some((1u8, "two".to_owned(), Shape::Rect(3.0, 4.0))));
        same_as_postcard(&Shape::Named {
            name: String::new(),
            sides: vec![],
        });
        same_as_postcard(&HashMap::from([("k".to_owned(), Some(vec![Unit]))]));
        same_as_postcard(&"just a string".to_owned());
        same_as_postcard(&chain(100));
        // A value 100 levels deep, assembled as its bytes: it decodes to the same value.
        assert_eq!(from_bytes::<Node>(&chain_bytes(100)), Ok(chain(100)));
    }

    #[test]
    fn the_limit_is_exactly_limit_levels() {
        // Behind an `Option`, 128 nodes nest exactly `LIMIT` levels (the option's content is
        // level 1, the last node's `Vec` level 256), and 129 nodes one more than that.
        for (nodes, ok) in [(128, true), (129, false)] {
            let mut bytes = vec![1];
            bytes.extend(chain_bytes(nodes));
            let expected = if ok {
                Ok(Some(chain(nodes)))
            } else {
                Err(postcard::Error::SerdeDeCustom)
            };
            assert_eq!(from_bytes::<Option<Node>>(&bytes), expected, "{nodes}");
        }
        // The same bytes with the limit checked one level sooner (a custom `Deserialize` impl
        // that starts a level deeper) reach LIMIT + 1 levels: the boundary is LIMIT itself.
        let mut bytes = vec![1];
        bytes.extend(chain_bytes(128));
        let mut inner = postcard::Deserializer::from_bytes(&bytes);
        let deeper = Option::<Node>::deserialize(Depth {
            inner: &mut inner,
            depth: 1,
        });
        assert_eq!(deeper, Err(postcard::Error::SerdeDeCustom));
    }
}
