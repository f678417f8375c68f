//! The fuzz campaign of fair-kd's file loaders (issue 23 point 1): the user
//! graph of `fair-kd train --nodes FILE --edges FILE` (`data::from_user_files`),
//! the predictions CSV of `fair-kd bias` (`bias::bias_of_file`) and the
//! benchmark CSV reader of bail / credit (`data::from_csv`). Damaged and
//! hostile files give one user error naming the file, never a panic, a
//! hang, or NaN features accepted silently (see reprolab_testkit::loader).

use fair_kd::bias::bias_of_file;
use fair_kd::data::{FairGraph, FeatureScaling, from_csv, from_user_files};
use proptest::prelude::*;
use reprolab_testkit::loader::{Campaign, Expect, Loaded, Loader, check_bytes};
use std::path::Path;
use std::sync::Arc;

#[global_allocator]
static ALLOC: reprolab_testkit::CappedAllocator = reprolab_testkit::CappedAllocator::new(1 << 30);

const NODES: &str = "id,x,s,y\na,0.5,1,1\nb,1.5,0,0\nc,2.5,1,1\nd,3.0,0,0\ne,-1,1,0\n";
const EDGES: &str = "src,dst\na,b\nb,a\nc,d\nd,e\n";

/// A loaded graph must be usable: finite features of the stated shape, edges
/// inside it (a loader that accepts a NaN fails here, not downstream).
fn usable(g: &FairGraph) {
    assert_eq!(g.features.len(), g.n * g.d);
    assert!(g.features.iter().all(|v| v.is_finite()), "non-finite features accepted: {:?}", g.features);
    assert!(g.edges.iter().all(|&(i, j)| i < j && j < g.n), "{:?}", g.edges);
    assert_eq!((g.labels.len(), g.sensitive.len()), (g.n, g.n));
}

#[test]
fn user_graph_nodes_survive_the_campaign() {
    let edges = tempfile::tempdir().unwrap();
    let e = edges.path().join("edges.csv");
    std::fs::write(&e, EDGES).unwrap();
    let with = |body: &str| format!("id,x,s,y\n{body}").into_bytes();
    let four = "b,1.5,0,0\nc,2.5,1,1\nd,3.0,0,0\ne,-1,1,0\n";
    let s = Campaign::new("fair-kd --nodes CSV", "nodes.csv", NODES.as_bytes().to_vec(), move |p| {
        from_user_files(p, &e, "y", "s").map(|g| usable(&g))
    })
    .case("header only", b"id,x,s,y\n".to_vec(), Expect::Refused)
    .case("empty file", Vec::new(), Expect::Refused)
    .case("NaN feature", with(&format!("a,NaN,1,1\n{four}")), Expect::Refused)
    .case("inf feature", with(&format!("a,inf,1,1\n{four}")), Expect::Refused)
    .case("1e300 feature (inf as f32)", with(&format!("a,1e300,1,1\n{four}")), Expect::Refused)
    .case(
        "3e38 features (variance overflows f32)",
        with(&format!("a,3e38,1,1\n{}", four.replace("1.5", "-3e38"))),
        Expect::Either,
    )
    .case("label 2", with(&format!("a,0.5,1,2\n{four}")), Expect::Refused)
    .case("sensitive NaN", with(&format!("a,0.5,NaN,1\n{four}")), Expect::Refused)
    .case("duplicate id", with(&format!("b,0.5,1,1\n{four}")), Expect::Refused)
    .case("unknown column only", b"id,x,group,y\na,0.5,1,1\n".to_vec(), Expect::Refused)
    .case("no label column", b"id,x,s\na,0.5,1\n".to_vec(), Expect::Refused)
    .case("three nodes", with("a,0.5,1,1\nb,1.5,0,0\nc,2.5,1,1\n"), Expect::Refused)
    .case("short row", with(&format!("a,0.5,1\n{four}")), Expect::Refused)
    .case(
        "not UTF-8 feature",
        [with(""), b"a,\xff\xfe,1,1\n".to_vec(), four.as_bytes().to_vec()].concat(),
        Expect::Refused,
    )
    .case("not UTF-8 id", [with(""), b"\xff,0.5,1,1\n".to_vec(), four.as_bytes().to_vec()].concat(), Expect::Either)
    .case("text feature", with(&format!("a,high,1,1\n{four}")), Expect::Refused)
    .case(
        "duplicate sensitive column",
        b"id,x,s,y,s\na,0.5,1,1,0\nb,1.5,0,0,1\nc,2.5,1,1,0\nd,3.0,0,0,1\ne,-1,1,0,0\n".to_vec(),
        Expect::Either,
    )
    .case("constant features", with("a,1,1,1\nb,1,0,0\nc,1,1,1\nd,1,0,0\ne,1,1,0\n"), Expect::Either)
    .run();
    assert!(s.loaded >= 1 && s.refused > s.cases / 2, "{s}");
}

#[test]
fn user_graph_edges_survive_the_campaign() {
    let nodes = tempfile::tempdir().unwrap();
    let n = nodes.path().join("nodes.csv");
    std::fs::write(&n, NODES).unwrap();
    let s = Campaign::new("fair-kd --edges CSV", "edges.csv", EDGES.as_bytes().to_vec(), move |p| {
        from_user_files(&n, p, "y", "s").map(|g| usable(&g))
    })
    .case("header only (no edges)", b"src,dst\n".to_vec(), Expect::Refused)
    .case("unknown node id", b"src,dst\na,zz\n".to_vec(), Expect::Refused)
    .case("self-loop", b"src,dst\nc,c\n".to_vec(), Expect::Refused)
    .case("duplicate edge", b"src,dst\na,b\nc,d\na,b\n".to_vec(), Expect::Refused)
    .case("one column", b"src\na\n".to_vec(), Expect::Refused)
    .case("not UTF-8 id", b"src,dst\na,\xff\n".to_vec(), Expect::Refused)
    .case("numeric ids of a named graph", b"src,dst\n0,1\n".to_vec(), Expect::Refused)
    .run();
    assert!(s.loaded >= 2, "{s}");
}

const PREDICTIONS: &str =
    "label,sensitive,probability\n1,0,0.9\n1,0,0.7\n0,0,0.6\n0,0,0.1\n1,1,0.8\n1,1,0.2\n0,1,0.3\n0,1,0.4\n";

#[test]
fn bias_predictions_survive_the_campaign() {
    let with = |body: &str| format!("label,sensitive,probability\n{body}").into_bytes();
    let rest = "1,0,0.7\n0,0,0.6\n1,1,0.8\n0,1,0.3\n";
    let s = Campaign::new("fair-kd bias predictions CSV", "pred.csv", PREDICTIONS.as_bytes().to_vec(), |p| {
        let b = bias_of_file(p)?;
        assert!(b.accuracy.is_finite() && b.delta_sp.is_finite() && b.delta_eo.is_finite(), "{b:?}");
        Ok(())
    })
    .case("header only", b"label,sensitive,probability\n".to_vec(), Expect::Refused)
    .case("empty file", Vec::new(), Expect::Refused)
    .case("NaN probability", with(&format!("1,0,NaN\n{rest}")), Expect::Refused)
    .case("inf probability", with(&format!("1,0,inf\n{rest}")), Expect::Refused)
    .case("probability 1.5", with(&format!("1,0,1.5\n{rest}")), Expect::Refused)
    .case("label 2", with(&format!("2,0,0.5\n{rest}")), Expect::Refused)
    .case("prediction 0.5", b"label,sensitive,prediction\n1,0,0.5\n0,1,1\n".to_vec(), Expect::Refused)
    .case("no prediction column", b"label,sensitive,score\n1,0,0.5\n".to_vec(), Expect::Refused)
    .case("unknown columns only", b"a,b,c\n1,0,0.5\n".to_vec(), Expect::Refused)
    .case("one group only", with("1,0,0.9\n0,0,0.2\n"), Expect::Refused)
    .case("no positive labels in a group", with("0,0,0.9\n1,1,0.2\n0,1,0.5\n"), Expect::Refused)
    .case("not UTF-8 value", [with(""), b"1,0,\xff\n".to_vec(), rest.as_bytes().to_vec()].concat(), Expect::Refused)
    .case("short row", with(&format!("1,0\n{rest}")), Expect::Refused)
    .run();
    assert!(s.loaded >= 1 && s.refused > s.cases / 2, "{s}");
}

const BENCHMARK: &str = "a,b,s,y\n0.5,1,1,1\n1.5,2,0,0\n2.5,0.5,1,1\n3,1,0,0\n";

#[test]
fn benchmark_csv_survives_the_campaign() {
    let with = |body: &str| format!("a,b,s,y\n{body}").into_bytes();
    let rest = "1.5,2,0,0\n2.5,0.5,1,1\n3,1,0,0\n";
    for scaling in [FeatureScaling::RowNormalise, FeatureScaling::Standardise] {
        Campaign::new(
            &format!("fair-kd benchmark CSV ({scaling:?})"),
            "bail.csv",
            BENCHMARK.as_bytes().to_vec(),
            move |p| from_csv(p, "y", "s", 0.8, scaling).map(|g| usable(&g)),
        )
        .case("header only", b"a,b,s,y\n".to_vec(), Expect::Refused)
        .case("NaN feature", with(&format!("NaN,1,1,1\n{rest}")), Expect::Refused)
        .case("inf feature", with(&format!("inf,1,1,1\n{rest}")), Expect::Refused)
        .case("rows summing to ~0", with(&format!("1e-30,-1e-30,0,1\n3e38,3e38,1,0\n{rest}")), Expect::Either)
        .case("sensitive 2", with(&format!("0.5,1,2,1\n{rest}")), Expect::Refused)
        .case("label 0.5", with(&format!("0.5,1,1,0.5\n{rest}")), Expect::Refused)
        .case("no sensitive column", b"a,b,t,y\n0.5,1,1,1\n".to_vec(), Expect::Refused)
        .case("not UTF-8 header", b"a,\xff,s,y\n0.5,1,1,1\n".to_vec(), Expect::Either)
        .run();
    }
}

fn nodes_loader(edges: &Path) -> Loader {
    let e = edges.to_path_buf();
    Arc::new(move |p| from_user_files(p, &e, "y", "s").map(|g| usable(&g)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64 * reprolab_testkit::fuzz_scale() as u32))]

    #[test]
    fn arbitrary_bytes_never_panic_any_fair_kd_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().unwrap();
        let (n, e) = (dir.path().join("n.csv"), dir.path().join("e.csv"));
        std::fs::write(&n, NODES).unwrap();
        std::fs::write(&e, EDGES).unwrap();
        let loaders: [(&str, Loader); 4] = [
            ("nodes.csv", nodes_loader(&e)),
            ("edges.csv", Arc::new(move |p| from_user_files(&n, p, "y", "s").map(|g| usable(&g)))),
            ("pred.csv", Arc::new(|p| bias_of_file(p).map(drop))),
            ("bail.csv", Arc::new(|p| from_csv(p, "y", "s", 0.8, FeatureScaling::RowNormalise).map(|g| usable(&g)))),
        ];
        for (name, load) in &loaders {
            let outcome = check_bytes(name, &bytes, load);
            prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{name}: {outcome:?}");
        }
    }
}
