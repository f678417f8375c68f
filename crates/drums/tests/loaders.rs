//! The fuzz campaign of drums' file loaders: the groove text parser
//! (`model::read_groove` on a `.txt`, `codec::Groove::parse`), the MIDI
//! reader (`read_groove` on a `.mid`, `codec::encode_file`, and
//! `model::sequences_from_folder` for `drums train --grooves`), the Groove
//! MIDI Dataset index (`gmd::load_index`), the paper's language-model files
//! (`data::read_jsonl`, what training reads from `--data`) and the
//! pre-training text (`corpus::text_from`). Damaged and hostile files give
//! one user error naming the file, never a panic, a hang or an allocation
//! the file only claims (see reprolab_testkit::loader).

use drums::codec::{Groove, MEASURE, decode_midi, encode_file, lm_example};
use drums::corpus::{byte_windows, text_from};
use drums::data::read_jsonl;
use drums::gmd::load_index;
use drums::model::{read_groove, sequences_from_folder};
use proptest::prelude::*;
use reprolab_testkit::loader::{Campaign, Expect, Loaded, Loader, check_bytes};
use std::path::Path;
use std::sync::Arc;

#[global_allocator]
static ALLOC: reprolab_testkit::CappedAllocator = reprolab_testkit::CappedAllocator::new(1 << 30);

/// A rock beat of `measures` measures: kick on the beats, hi-hat on the
/// eighths, snare on 2 and 4, a crash opening each measure.
fn groove(measures: usize) -> Groove {
    let lines = (0..measures * MEASURE)
        .map(|i| {
            let at = i % MEASURE;
            [at == 0 && i.is_multiple_of(64), false, at % 8 == 4, at.is_multiple_of(4), at.is_multiple_of(2), at == 14]
        })
        .collect();
    Groove { lines }
}

fn midi_seed() -> Vec<u8> {
    decode_midi(&groove(16), 120.0).unwrap()
}

/// A MIDI variable-length quantity (at most 28 bits, 4 bytes).
fn vlq(mut n: u32) -> Vec<u8> {
    let mut out = vec![(n & 0x7f) as u8];
    n >>= 7;
    while n > 0 {
        out.insert(0, (n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out
}

/// A standard MIDI file from raw track bodies (each gets its `MTrk` header).
fn smf(format: u16, ntracks: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"MThd\x00\x00\x00\x06".to_vec();
    for v in [format, ntracks, division] {
        out.extend(v.to_be_bytes());
    }
    for body in tracks {
        out.extend(b"MTrk");
        out.extend((body.len() as u32).to_be_bytes());
        out.extend(body);
    }
    out
}

/// Time signature `num`/2^`pow2` at delta 0.
fn signature(num: u8, pow2: u8) -> Vec<u8> {
    vec![0x00, 0xFF, 0x58, 0x04, num, pow2, 24, 8]
}

fn note_on(delta: u32, key: u8, vel: u8) -> Vec<u8> {
    [vlq(delta), vec![0x99, key, vel]].concat()
}

const END_OF_TRACK: [u8; 4] = [0x00, 0xFF, 0x2F, 0x00];

/// A 4/4 track: `prefix` events, then a kick and hi-hat every 16th note.
fn drum_track(prefix: &[u8]) -> Vec<u8> {
    let mut body = [prefix, &signature(4, 2)].concat();
    for i in 0..16 {
        body.extend(note_on(if i == 0 { 0 } else { 120 }, 36, 100));
        body.extend(note_on(0, 42, 90));
    }
    body.extend(END_OF_TRACK);
    body
}

fn hostile_midi() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::{Either, Refused};
    let many_huge_deltas: Vec<u8> = [signature(4, 2)]
        .into_iter()
        .chain((0..2000).map(|_| note_on(0x0FFF_FFFF, 36, 100)))
        .chain([END_OF_TRACK.to_vec()])
        .flatten()
        .collect();
    let hit_then_huge_delta =
        [signature(4, 2), note_on(0, 36, 100), note_on(0x0FFF_FFFF, 38, 100), END_OF_TRACK.to_vec()].concat();
    let mut huge_track = smf(0, 1, 480, &[drum_track(&[])]);
    huge_track[18..22].copy_from_slice(&u32::MAX.to_be_bytes());
    let note_offs: Vec<u8> = [signature(4, 2), vec![0x00, 0x89, 36, 0, 0x10, 0x89, 42, 0]]
        .into_iter()
        .chain([END_OF_TRACK.to_vec()])
        .flatten()
        .collect();
    let silent_ons = [signature(4, 2), note_on(0, 36, 0), note_on(120, 42, 0), END_OF_TRACK.to_vec()].concat();
    let unsigned = [note_on(0, 36, 100), note_on(120, 42, 100), END_OF_TRACK.to_vec()].concat();
    let zero_four = [signature(0, 2), note_on(0, 36, 100), note_on(120, 42, 100), END_OF_TRACK.to_vec()].concat();
    let melody = [signature(4, 2), note_on(0, 60, 100), note_on(120, 64, 100), END_OF_TRACK.to_vec()].concat();
    let running_status =
        [signature(4, 2), vec![0x00, 0x99, 36, 100, 0x78, 42, 90, 0x78, 36, 100], END_OF_TRACK.to_vec()].concat();
    vec![
        ("2000 delta times of 2^28 - 1 ticks", smf(0, 1, 480, &[many_huge_deltas]), Either),
        ("a hit, then a delta of 2^28 - 1 ticks", smf(0, 1, 480, &[hit_then_huge_delta]), Either),
        ("tempo 0 us per beat", smf(0, 1, 480, &[drum_track(&[0x00, 0xFF, 0x51, 0x03, 0, 0, 0])]), Either),
        (
            "tempo 2^24 - 1 us per beat",
            smf(0, 1, 480, &[drum_track(&[0x00, 0xFF, 0x51, 0x03, 0xFF, 0xFF, 0xFF])]),
            Either,
        ),
        ("tempo event of the wrong length", smf(0, 1, 480, &[drum_track(&[0x00, 0xFF, 0x51, 0x01, 7])]), Either),
        ("track claims 4 GiB", huge_track, Either),
        ("header claims 65535 tracks", smf(1, u16::MAX, 480, &[drum_track(&[])]), Either),
        (
            "meta event claims 256 MiB",
            smf(0, 1, 480, &[[vec![0x00, 0xFF, 0x01], vlq(0x0FFF_FFFF), b"abc".to_vec()].concat()]),
            Refused,
        ),
        ("sysex claims 256 MiB", smf(0, 1, 480, &[[vec![0x00, 0xF0], vlq(0x0FFF_FFFF), vec![1, 2]].concat()]), Refused),
        (
            "delta of more than 4 VLQ bytes",
            smf(0, 1, 480, &[vec![0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x99, 36, 100]]),
            Either,
        ),
        ("no note-ons", smf(0, 1, 480, &[note_offs]), Refused),
        ("note-ons of velocity 0 only", smf(0, 1, 480, &[silent_ons]), Refused),
        ("no time signature", smf(0, 1, 480, &[unsigned]), Refused),
        ("time signature 0/4", smf(0, 1, 480, &[zero_four]), Refused),
        (
            "time signature 4/2^255",
            smf(0, 1, 480, &[[signature(4, 255), note_on(0, 36, 100), END_OF_TRACK.to_vec()].concat()]),
            Refused,
        ),
        ("SMPTE timing", smf(0, 1, 0xE728, &[drum_track(&[])]), Refused),
        ("SMPTE frame-rate byte 0x80 (midly negates it as an i8)", smf(0, 1, 0x8000, &[drum_track(&[])]), Refused),
        ("0 ticks per beat", smf(0, 1, 0, &[drum_track(&[])]), Refused),
        ("1 tick per beat", smf(0, 1, 1, &[drum_track(&[])]), Either),
        ("no tracks", smf(0, 0, 480, &[]), Refused),
        ("header only", smf(0, 1, 480, &[]), Refused),
        ("melody notes only", smf(0, 1, 480, &[melody]), Refused),
        ("running status", smf(0, 1, 480, &[running_status]), Either),
        ("empty first track, drums in the second", smf(1, 2, 480, &[END_OF_TRACK.to_vec(), drum_track(&[])]), Refused),
    ]
}

#[test]
fn midi_reader_survives_the_campaign() {
    let mut campaign = Campaign::new("drums MIDI (read_groove, encode_file)", "g.mid", midi_seed(), |p| {
        encode_file(p)?;
        read_groove(p).map(drop)
    });
    for (label, bytes, expect) in hostile_midi() {
        campaign = campaign.case(label, bytes, expect);
    }
    let summary = campaign.run();
    assert!(summary.refused > 0 && summary.loaded > 0, "{summary}");
}

#[test]
fn groove_folders_survive_the_campaign() {
    // A second, valid groove in the folder: a damaged file that is only
    // skipped (too short, not x/4) leaves a folder that still trains.
    let mut campaign = Campaign::new("drums --grooves folder (.mid)", "g.mid", midi_seed(), |p| {
        std::fs::write(p.parent().unwrap().join("ok.txt"), groove(9).to_text()).unwrap();
        sequences_from_folder(p.parent().unwrap()).map(drop)
    });
    for (label, bytes, _) in hostile_midi() {
        campaign = campaign.case(label, bytes, Expect::Either);
    }
    campaign.run();
}

#[test]
fn groove_text_parser_survives_the_campaign() {
    let text = groove(16).to_text();
    let long_line = "o".repeat(1 << 20);
    Campaign::new("drums groove text (read_groove)", "g.txt", text.clone().into_bytes(), |p| read_groove(p).map(drop))
        .case("an unknown line", format!("{text}bass drum\n").into_bytes(), Expect::Refused)
        .case("NaN line", b"oo--o-\nNaN\n".to_vec(), Expect::Refused)
        .case("seven columns", b"oo--o--\n".to_vec(), Expect::Refused)
        .case("trailing space", b"oo--o- \n".to_vec(), Expect::Refused)
        .case("x for a hit", b"xx--x-\n".to_vec(), Expect::Refused)
        .case("SEP and END only", b"SEP\nEND\n".to_vec(), Expect::Refused)
        .case("empty file", Vec::new(), Expect::Refused)
        .case("a 1 MiB line", long_line.into_bytes(), Expect::Refused)
        .case("not UTF-8", b"oo--o-\n\xff\xfe--o-\n".to_vec(), Expect::Refused)
        .case("byte-order mark", format!("\u{feff}{text}").into_bytes(), Expect::Either)
        .case("CRLF line ends", text.replace('\n', "\r\n").into_bytes(), Expect::Either)
        .case("100,000 lines", "o-o-o-\n".repeat(100_000).into_bytes(), Expect::Either)
        .run();
}

#[test]
fn groove_text_errors_quote_a_bounded_part_of_the_line() {
    let err = Groove::parse(&"o".repeat(1 << 20), "g.txt").unwrap_err().to_string();
    assert_eq!(err, format!("g.txt: line 1 is not six 'o'/'-' characters: \"{}...\"", "o".repeat(40)));
}

fn jsonl_seed() -> Vec<u8> {
    let mut out = String::new();
    for (k, measures) in [9, 10].into_iter().enumerate() {
        let (prompt, completion) = lm_example(&groove(measures)).unwrap();
        let row = serde_json::json!({"name": format!("groove_{k}"), "prompt": prompt, "completion": completion});
        out.push_str(&format!("{row}\n"));
    }
    out.into_bytes()
}

#[test]
fn lm_jsonl_reader_survives_the_campaign() {
    let examples = read_jsonl_bytes(&jsonl_seed());
    assert_eq!(examples, vec![(9 * MEASURE, 2 * MEASURE), (10 * MEASURE, 2 * MEASURE)], "lines and prompt lines");
    let row = |prompt: &str, completion: &str| {
        format!("{{\"name\": \"a\", \"prompt\": {prompt}, \"completion\": {completion}}}\n")
    };
    let good = "\"o-----\\nSEP\\n\"";
    Campaign::new("drums gpt3_*.jsonl", "gpt3_train.jsonl", jsonl_seed(), |p| read_jsonl(p).map(drop))
        .case("NaN prompt", row("NaN", "\"END\"").into_bytes(), Expect::Refused)
        .case("numeric prompt", row("1e999", "\"END\"").into_bytes(), Expect::Refused)
        .case("no completion", b"{\"name\": \"a\", \"prompt\": \"o-----\\n\"}\n".to_vec(), Expect::Refused)
        .case("prompt not in the groove format", row("\"hello\\n\"", "\"END\"").into_bytes(), Expect::Refused)
        .case("prompt without groove lines", row("\"SEP\\n\"", "\"o-----\\nEND\"").into_bytes(), Expect::Refused)
        .case("unknown completion line", row(good, "\"o-----\\nbass\\nEND\"").into_bytes(), Expect::Refused)
        .case(
            "name is a number",
            b"{\"name\": 3, \"prompt\": \"o-----\\n\", \"completion\": \"END\"}\n".to_vec(),
            Expect::Refused,
        )
        .case("a JSON array", b"[1, 2, 3]\n".to_vec(), Expect::Refused)
        .case("empty file", Vec::new(), Expect::Refused)
        .case("a blank line", [jsonl_seed(), b"\n\n".to_vec()].concat(), Expect::Either)
        .run();
}

/// (lines, prompt lines) per example of a jsonl file's bytes.
fn read_jsonl_bytes(bytes: &[u8]) -> Vec<(usize, usize)> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gpt3_train.jsonl");
    std::fs::write(&p, bytes).unwrap();
    read_jsonl(&p)
        .unwrap()
        .into_iter()
        .map(|e| (e.tokens.iter().filter(|&&t| drums::tokens::token_line(t).is_some()).count(), e.prompt_lines.len()))
        .collect()
}

const INFO: &str = "drummer,session,id,style,bpm,beat_type,time_signature,midi_filename,audio_filename,duration,split
drummer1,drummer1/eval_session,drummer1/eval_session/1,funk/groove1,138,beat,4-4,drummer1/eval_session/1_funk-groove1_138_beat_4-4.mid,drummer1/eval_session/1_funk-groove1_138_beat_4-4.wav,27.872308,test
drummer1,drummer1/session1,drummer1/session1/1,funk/groove1,138,beat,4-4,drummer1/session1/1_funk_138_beat_4-4.mid,,28.0,train
drummer2,drummer2/session2,drummer2/session2/7,rock,92.5,fill,4-4,drummer2/session2/7_rock_92.5_fill_4-4.mid,,1.5,validation
";

#[test]
fn gmd_index_survives_the_campaign() {
    let index = |rows: &str| format!("{}\n{rows}", INFO.lines().next().unwrap()).into_bytes();
    let row = |bpm: &str, duration: &str, split: &str| {
        index(&format!("d,d/s,d/s/1,rock,{bpm},beat,4-4,a.mid,,{duration},{split}\n"))
    };
    Campaign::new("drums GMD info.csv", "info.csv", INFO.as_bytes().to_vec(), |p| {
        load_index(p.parent().unwrap()).map(drop)
    })
    .case("NaN bpm", row("NaN", "1.0", "train"), Expect::Refused)
    .case("inf duration", row("120", "inf", "train"), Expect::Refused)
    .case("negative bpm", row("-120", "1.0", "train"), Expect::Refused)
    .case("bpm not a number", row("fast", "1.0", "train"), Expect::Refused)
    .case("unknown split", row("120", "1.0", "holdout"), Expect::Refused)
    .case("header only", index(""), Expect::Refused)
    .case("no split column", b"drummer,id,style,bpm\nd,1,rock,120\n".to_vec(), Expect::Refused)
    .case("short row", index("d,d/s,d/s/1,rock,120\n"), Expect::Refused)
    .case("empty file", Vec::new(), Expect::Refused)
    .case(
        "not UTF-8",
        [index(""), b"d\xff,d/s,d/s/1,rock,120,beat,4-4,a.mid,,1.0,train\n".to_vec()].concat(),
        Expect::Either,
    )
    .run();
}

#[test]
fn pretraining_text_survives_the_campaign() {
    let text = "Burn is a deep learning framework written in Rust.\n".repeat(12);
    let windows = |p: &Path| -> anyhow::Result<()> {
        let text = text_from(p)?;
        let w = byte_windows(&text, 16, 1 << 20);
        assert_eq!(w.len(), text.len() / 16, "whole windows of the text");
        Ok(())
    };
    Campaign::new("drums pre-training text file", "corpus.txt", text.clone().into_bytes(), windows)
        .case("not UTF-8", b"abc\xff\xfe\xfddef".repeat(40), Expect::Either)
        .case("empty", Vec::new(), Expect::Either)
        .case("NUL bytes", vec![0; 4096], Expect::Either)
        .run();
    Campaign::new("drums pre-training text folder", "corpus.txt", text.into_bytes(), |p| {
        text_from(p.parent().unwrap()).map(drop)
    })
    .run();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64 * reprolab_testkit::fuzz_scale() as u32))]

    #[test]
    fn arbitrary_bytes_never_panic_any_drums_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let loaders: [(&str, Loader); 5] = [
            ("g.txt", Arc::new(|p| read_groove(p).map(drop))),
            ("g.mid", Arc::new(|p| read_groove(p).map(drop))),
            ("info.csv", Arc::new(|p| load_index(p.parent().unwrap()).map(drop))),
            ("gpt3_dev.jsonl", Arc::new(|p| read_jsonl(p).map(drop))),
            ("corpus.txt", Arc::new(|p| text_from(p).map(drop))),
        ];
        for (name, load) in &loaders {
            let outcome = check_bytes(name, &bytes, load);
            prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{name}: {outcome:?}");
        }
    }

    /// MIDI-shaped inputs: a valid header and arbitrary track bytes, so the
    /// event parser (not only the header check) meets random input.
    #[test]
    fn arbitrary_tracks_never_panic_the_midi_reader(body in proptest::collection::vec(any::<u8>(), 0..600), division in any::<u16>()) {
        let load: Loader = Arc::new(|p| read_groove(p).map(drop));
        let outcome = check_bytes("g.mid", &smf(0, 1, division, &[body]), &load);
        prop_assert!(matches!(outcome, Ok(Loaded::Yes | Loaded::No)), "{outcome:?}");
    }
}
