//! Serde for the numbers inside charts that keeps NaN and infinities.
//!
//! A chart travels through JSON (the unit cache, report.json) and its
//! numbers may be NaN: a learning curve that diverged, a cell a sweep did
//! not run. serde_json writes a non-finite f64 as `null` and then refuses
//! to read it back, so a cached unit with one NaN in a figure could not be
//! resumed. Here a finite number stays a JSON number and the others become
//! the strings `"NaN"`, `"inf"` and `"-inf"` (as in `plan::json_f64`), for
//! an f64 and for vectors and pairs of them (`#[serde(with = "floats")]`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number as stored: a JSON number, or the name of a non-finite one.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub enum Num {
    Finite(f64),
    Named(String),
}

/// An f32 as stored: written with f32's shortest form ("0.1", not the
/// "0.10000000149011612" of the same value widened to f64).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub enum Num32 {
    Finite(f32),
    Named(String),
}

/// Values made of floats, with their NaN-safe stored form.
pub trait Floats: Sized {
    type Stored: Serialize + for<'de> Deserialize<'de>;
    fn store(&self) -> Self::Stored;
    fn load(stored: Self::Stored) -> Result<Self, String>;
}

impl Floats for f64 {
    type Stored = Num;
    fn store(&self) -> Num {
        if self.is_finite() {
            Num::Finite(*self)
        } else if self.is_nan() {
            Num::Named("NaN".into())
        } else if *self > 0.0 {
            Num::Named("inf".into())
        } else {
            Num::Named("-inf".into())
        }
    }
    fn load(stored: Num) -> Result<Self, String> {
        match stored {
            Num::Finite(v) => Ok(v),
            Num::Named(name) => match name.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(format!("not a number: '{other}'")),
            },
        }
    }
}

impl Floats for f32 {
    type Stored = Num32;
    fn store(&self) -> Num32 {
        match (*self as f64).store() {
            Num::Finite(_) => Num32::Finite(*self),
            Num::Named(n) => Num32::Named(n),
        }
    }
    fn load(stored: Num32) -> Result<Self, String> {
        match stored {
            Num32::Finite(v) => Ok(v),
            Num32::Named(n) => Ok(f64::load(Num::Named(n))? as f32),
        }
    }
}

impl<T: Floats> Floats for Vec<T> {
    type Stored = Vec<T::Stored>;
    fn store(&self) -> Self::Stored {
        self.iter().map(T::store).collect()
    }
    fn load(stored: Self::Stored) -> Result<Self, String> {
        stored.into_iter().map(T::load).collect()
    }
}

impl<A: Floats, B: Floats> Floats for (A, B) {
    type Stored = (A::Stored, B::Stored);
    fn store(&self) -> Self::Stored {
        (self.0.store(), self.1.store())
    }
    fn load(stored: Self::Stored) -> Result<Self, String> {
        Ok((A::load(stored.0)?, B::load(stored.1)?))
    }
}

pub fn serialize<T: Floats, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    v.store().serialize(s)
}

pub fn deserialize<'de, T: Floats, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    T::load(T::Stored::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        v: Vec<f64>,
        #[serde(with = "super")]
        pts: Vec<Vec<(f64, f64)>>,
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Short {
        #[serde(with = "super")]
        v: Vec<f32>,
    }

    #[test]
    fn f32_values_are_written_short_and_read_back_exactly() {
        let s = Short { v: vec![0.1, f32::NAN, -2.5e-8] };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, r#"{"v":[0.1,"NaN",-2.5e-8]}"#);
        let back: Short = serde_json::from_str(&text).unwrap();
        assert_eq!((back.v[0], back.v[2]), (0.1, -2.5e-8));
        assert!(back.v[1].is_nan());
    }

    #[test]
    fn non_finite_values_survive_json() {
        let h = Holder { v: vec![1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY], pts: vec![vec![(0.1, f64::NAN)]] };
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(text, r#"{"v":[1.5,"NaN","inf","-inf"],"pts":[[[0.1,"NaN"]]]}"#);
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.v[0], 1.5);
        assert!(back.v[1].is_nan());
        assert_eq!((back.v[2], back.v[3]), (f64::INFINITY, f64::NEG_INFINITY));
        assert_eq!(back.pts[0][0].0, 0.1);
        assert!(back.pts[0][0].1.is_nan());
        assert!(serde_json::from_str::<Holder>(r#"{"v":["many"],"pts":[]}"#).is_err());
    }
}
