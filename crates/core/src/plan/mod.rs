//! The run plan: every experiment is a map over independent units and a
//! reduce (`summarise`) over their results, so the same code runs in one
//! process, on a local pool of worker processes, or as Slurm job arrays,
//! and a killed run resumes from the units it finished.
//!
//! - A [`Unit`] is named by a [`UnitKey`] (a part such as a dataset or an
//!   arm group, and a seed) and belongs to a [`Stage`]: the optional
//!   [`Stage::Shared`] units (a teacher, a behaviour model) run first and
//!   later units read their outputs with [`crate::registry::RunContext::shared`].
//! - A unit is a pure function of (method, resolved config, unit key) that
//!   returns a [`UnitOutput`]: metric records, figures, notes and free-form
//!   JSON. [`cache`] stores each one atomically under the run directory,
//!   keyed by a hash of all three, so a resumed run recomputes nothing it
//!   has and a changed config never reuses a stale unit.
//! - `summarise` sees only [`Outputs`], in unit order, whatever ran them:
//!   the verdict never depends on scheduling.
//! - [`executor`] runs the units: in this process, on `--jobs N` worker
//!   processes (`reprolab unit ...`), or through Slurm ([`slurm`]).

pub mod cache;
pub mod executor;
pub mod slurm;

use crate::report::{Figure, Results};
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Which stage a unit belongs to. Shared units all finish before any main
/// unit of the same method starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Shared,
    Main,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Shared => "shared",
            Stage::Main => "main",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "shared" => Ok(Stage::Shared),
            "main" => Ok(Stage::Main),
            _ => crate::user_bail!("unknown stage '{s}' (known: shared, main)"),
        }
    }
}

/// The name of a unit: what it covers (a dataset, an arm group, a
/// sub-experiment; may be empty) and its seed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UnitKey {
    pub part: String,
    pub seed: u64,
}

impl UnitKey {
    pub fn new(part: impl Into<String>, seed: u64) -> Self {
        Self { part: part.into(), seed }
    }

    /// The key as a file-name-safe string (`part-seedN`).
    pub fn file_stem(&self) -> String {
        let part: String = self
            .part
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        if part.is_empty() { format!("seed{}", self.seed) } else { format!("{part}-seed{}", self.seed) }
    }
}

impl std::fmt::Display for UnitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.part.is_empty() {
            write!(f, "seed {}", self.seed)
        } else {
            write!(f, "{} seed {}", self.part, self.seed)
        }
    }
}

/// One unit of an experiment's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub key: UnitKey,
    pub stage: Stage,
}

impl Unit {
    /// A unit of the main stage.
    pub fn main(part: impl Into<String>, seed: u64) -> Self {
        Self { key: UnitKey::new(part, seed), stage: Stage::Main }
    }

    /// A unit of the shared stage (runs before every main unit).
    pub fn shared(part: impl Into<String>, seed: u64) -> Self {
        Self { key: UnitKey::new(part, seed), stage: Stage::Shared }
    }
}

/// What one unit of a cluster job asks for (Slurm's `--cpus-per-task`,
/// `--mem`, `--time`). Methods declare it once for all their units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus: u32,
    pub mem_mb: u32,
    pub time_min: u32,
}

impl Resources {
    /// One core, 2 GiB, 30 minutes: enough for every quick-preset unit.
    pub const SMALL: Resources = Resources { cpus: 1, mem_mb: 2048, time_min: 30 };
}

/// One metric value of one arm in one table (`table` empty: the main table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub table: String,
    pub arm: String,
    pub metric: String,
    #[serde(with = "json_f64")]
    pub value: f64,
}

/// What a unit returns: records for the report's tables (replayed in unit
/// order, so the tables are the same whatever ran the units), figures,
/// notes, and method-specific JSON that `summarise` or later units read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitOutput {
    #[serde(default)]
    pub records: Vec<Record>,
    #[serde(default)]
    pub figures: Vec<Figure>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl UnitOutput {
    /// Records one value in the main table.
    pub fn record(&mut self, arm: &str, metric: &str, value: f64) {
        self.record_in("", arm, metric, value);
    }

    /// Records one value in the table named `table`.
    pub fn record_in(&mut self, table: &str, arm: &str, metric: &str, value: f64) {
        self.records.push(Record { table: table.into(), arm: arm.into(), metric: metric.into(), value });
    }

    /// Records every cell of `results` (one value per cell: a unit covers one
    /// seed) into `table`, in `results`' arm and metric order.
    pub fn record_results(&mut self, table: &str, results: &Results) {
        for arm in &results.arms {
            for metric in &results.metrics {
                for &v in results.cell(arm, metric).map_or(&[][..], |c| &c.values) {
                    self.record_in(table, arm, metric, v);
                }
            }
        }
    }

    /// Sets the method-specific data. Non-finite floats in `data` become
    /// JSON null: use [`json_f64`] on fields that can be NaN.
    pub fn with_data<T: Serialize>(mut self, data: &T) -> Result<Self> {
        self.data = serde_json::to_value(data)?;
        Ok(self)
    }

    /// The method-specific data as `T`.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_value(self.data.clone())?)
    }

    pub fn figure(&mut self, figure: Figure) {
        self.figures.push(figure);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

/// Every unit's output of one method, in plan order: what `summarise` reads.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub units: Vec<(Unit, UnitOutput)>,
}

impl Outputs {
    /// The output of the unit with `key`, or an error naming it.
    pub fn get(&self, key: &UnitKey) -> Result<&UnitOutput> {
        self.units
            .iter()
            .find(|(u, _)| &u.key == key)
            .map(|(_, o)| o)
            .ok_or_else(|| anyhow::anyhow!("no output for unit '{key}'"))
    }

    /// The outputs of main units whose part is `part`, in order.
    pub fn of_part<'a>(&'a self, part: &'a str) -> impl Iterator<Item = (&'a Unit, &'a UnitOutput)> + 'a {
        self.units.iter().filter(move |(u, _)| u.key.part == part).map(|(u, o)| (u, o))
    }

    /// The table `table` ("" for the main one) rebuilt from every unit's
    /// records, replayed in unit order.
    pub fn results(&self, table: &str) -> Results {
        let mut r = Results::default();
        for (_, out) in &self.units {
            for rec in out.records.iter().filter(|rec| rec.table == table) {
                r.record(&rec.arm, &rec.metric, rec.value);
            }
        }
        r
    }

    /// Names of the non-main tables, in order of first appearance.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for rec in self.units.iter().flat_map(|(_, o)| &o.records) {
            if !rec.table.is_empty() && !names.contains(&rec.table) {
                names.push(rec.table.clone());
            }
        }
        names
    }

    /// Every unit's figures, in unit order.
    pub fn figures(&self) -> Vec<Figure> {
        self.units.iter().flat_map(|(_, o)| o.figures.iter().cloned()).collect()
    }

    /// Every unit's notes, in unit order.
    pub fn notes(&self) -> Vec<String> {
        self.units.iter().flat_map(|(_, o)| o.notes.iter().cloned()).collect()
    }
}

/// Serde for `f64` that keeps NaN and infinities (JSON has no literal for
/// them, and serde_json writes them as null): finite values are numbers,
/// the others the strings "NaN", "inf", "-inf".
pub mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Num(v) => Ok(v),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("not a number: '{other}'"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_replay_in_unit_order_and_keep_non_finite_values() {
        let mut a = UnitOutput::default();
        a.record("x", "m", 1.0);
        a.record_in("t", "y", "m", f64::NAN);
        let mut b = UnitOutput::default();
        b.record("x", "m", 3.0);
        b.record("z", "m", f64::INFINITY);
        let text = serde_json::to_string(&b).unwrap();
        let b: UnitOutput = serde_json::from_str(&text).unwrap();
        let a: UnitOutput = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        let outs = Outputs { units: vec![(Unit::main("p", 0), a), (Unit::main("p", 1), b)] };
        let main = outs.results("");
        assert_eq!(main.arms, vec!["x", "z"]);
        assert_eq!(main.require("x", "m").unwrap().values, &[1.0, 3.0]);
        assert_eq!(main.require("z", "m").unwrap().values, &[f64::INFINITY]);
        assert!(outs.results("t").require("y", "m").unwrap().values[0].is_nan());
        assert_eq!(outs.table_names(), vec!["t"]);
        assert!(outs.get(&UnitKey::new("p", 1)).is_ok());
        assert!(outs.get(&UnitKey::new("p", 2)).unwrap_err().to_string().contains("p seed 2"));
    }

    #[test]
    fn floats_round_trip_exactly() {
        let v = [0.1 + 0.2, 1.0 / 3.0, 6.02214076e23, -2.2250738585072014e-308, 5e-324];
        let mut o = UnitOutput::default();
        for x in v {
            o.record("a", "m", x);
        }
        let back: UnitOutput = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        let got: Vec<f64> = back.records.iter().map(|r| r.value).collect();
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(UnitKey::new("csv:/a b/c.csv", 3).file_stem(), "csv__a_b_c_csv-seed3");
        assert_eq!(UnitKey::new("", 0).file_stem(), "seed0");
    }
}
