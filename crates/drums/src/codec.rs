//! The groove text encoding of the paper's official code (github
//! zharry29/drums-with-llm): one line per 16th note, six instrument
//! columns, 'o' for a hit and '-' for a rest, 16 measures (256 lines in
//! 4/4); only x/4 time signatures are encoded. [`encode_midi`] documents
//! the official encoder's exact quantisation and reproduces the paper's
//! `data_text/` files byte for byte (golden test); [`column_of`] its
//! instrument merges; [`lm_example`] builds the language-model
//! prompt/completion of the `gpt3_*.jsonl` files (leading empty measures
//! stripped, grooves of 128 lines or fewer dropped, SEP / END layout);
//! [`decode_midi`] writes a playable drum track (ours: the official decoder
//! writes the columns in another order than the encoder reads them).

use anyhow::{Context, Result};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use reprolab_core::user_bail;

/// General MIDI drum notes of the six columns, in line order: crash,
/// ride, snare, kick, closed hi-hat, tom.
pub const COLUMNS: [u8; 6] = [49, 51, 38, 36, 42, 50];

/// Lines per measure (16th notes in 4/4).
pub const MEASURE: usize = 16;

/// The column a drum note is merged into, if kept. Articulations merge
/// into their instrument (rim shots into the snare, bell into the ride,
/// splash and china into the crash, open hi-hat into the hi-hat, every tom
/// into one); the pedal hi-hat (44) and the rest are dropped, as in the
/// official encoder.
pub fn column_of(note: u8) -> Option<usize> {
    match note {
        49 | 55 | 57 | 52 => Some(0),
        51 | 53 | 59 => Some(1),
        38 | 40 | 37 => Some(2),
        36 => Some(3),
        42 | 46 | 22 | 26 => Some(4),
        50 | 48 | 47 | 45 | 43 | 58 => Some(5),
        _ => None,
    }
}

/// A groove: one row of six hits per 16th note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groove {
    pub lines: Vec<[bool; 6]>,
}

impl Groove {
    /// The text form: each line `o`/`-` x 6 followed by a newline.
    pub fn to_text(&self) -> String {
        self.lines.iter().map(|l| format!("{}\n", line_text(l))).collect()
    }

    /// Parses pattern lines (`o`/`-`, six per line); blank lines, `SEP`
    /// and a final `END` are skipped. Anything else is an error naming
    /// `source` and the line, so malformed model output is counted, never
    /// silently dropped.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim_end_matches('\r');
            if l.is_empty() || l == "SEP" || l == "END" {
                continue;
            }
            match parse_line(l) {
                Some(row) => lines.push(row),
                None => user_bail!("{source}: line {} is not six 'o'/'-' characters: {:?}", i + 1, quoted(l)),
            }
        }
        if lines.is_empty() {
            user_bail!("{source}: no pattern lines");
        }
        Ok(Self { lines })
    }

    /// Like [`Groove::parse`], but a line that is not six `o`/`-`
    /// characters becomes a silent line (keeping the timing) and is
    /// counted: for judging other systems' outputs, where such lines occur.
    /// Returns the groove and the number of repaired lines.
    pub fn parse_lenient(text: &str) -> (Self, usize) {
        let mut repaired = 0;
        let lines = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty() && *l != "SEP" && *l != "END")
            .map(|l| {
                parse_line(l).unwrap_or_else(|| {
                    repaired += 1;
                    [false; 6]
                })
            })
            .collect();
        (Self { lines }, repaired)
    }

    /// The lines after the leading empty measures, as the paper strips
    /// them: a measure is empty when its first four lines are all rests.
    pub fn without_leading_empty_measures(&self) -> &[[bool; 6]] {
        let empty = |m: &[[bool; 6]]| m.iter().take(4).all(|row| row.iter().all(|&h| !h));
        let start = self.lines.chunks(MEASURE).take_while(|m| empty(m)).count() * MEASURE;
        &self.lines[start.min(self.lines.len())..]
    }

    /// Measures of [`MEASURE`] lines (the last may be shorter).
    pub fn measures(&self) -> impl Iterator<Item = &[[bool; 6]]> {
        self.lines.chunks(MEASURE)
    }
}

/// At most the first 40 characters of a line, for an error message: a
/// damaged file's "line" can be megabytes of bytes without a line break.
fn quoted(line: &str) -> String {
    match line.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

/// One line as text.
pub fn line_text(row: &[bool; 6]) -> String {
    row.iter().map(|&hit| if hit { 'o' } else { '-' }).collect()
}

/// A six-character `o`/`-` line, or `None`.
pub fn parse_line(l: &str) -> Option<[bool; 6]> {
    let b = l.as_bytes();
    if b.len() != 6 || !b.iter().all(|&c| c == b'o' || c == b'-') {
        return None;
    }
    let mut row = [false; 6];
    for (r, &c) in row.iter_mut().zip(b) {
        *r = c == b'o';
    }
    Some(row)
}

/// Encodes a drum MIDI file as the official code does: the first track's
/// note-ons (velocity > 0) at cumulative ticks, the last time signature of
/// that track, 16 measures of 16th notes. A tick
/// maps to sixteenth 0 when below tpb/8, else to the k >= 1 whose window
/// [k*(tpb/4) - tpb/8, k*(tpb/4) + tpb/8) holds it (each quotient
/// truncated separately); the first note outside every window ends the
/// encoding. Files whose time signature is not x/4 are refused, as the
/// official code skips them; so is a file whose first track has no time
/// signature: the official encoder starts from `[0, 0]`, so such a file
/// fails its x/4 test and is skipped ("Skipped non x/4"), although MIDI
/// itself reads a missing time signature as 4/4.
pub fn encode_midi(bytes: &[u8], source: &str) -> Result<Groove> {
    encode_midi_or_skip(bytes, source)?.map_err(reprolab_core::user_error)
}

/// [`encode_midi`], with the files the official encoder skips (no time
/// signature, or one that is not x/4) as `Ok(Err(why))` instead of an
/// error, so a folder of grooves can skip and count them as it does.
pub fn encode_midi_or_skip(bytes: &[u8], source: &str) -> Result<std::result::Result<Groove, String>> {
    // SMPTE timing is refused before midly reads it: midly 0.5.3 negates
    // the frame-rate byte as an i8, which panics (overflow) on 0x80, a
    // damaged header's value; the encoder refuses SMPTE timing anyway. The
    // header is at the start, or inside a RIFF wrapper's first bytes.
    let header = bytes.windows(4).take(64).position(|w| w == b"MThd");
    if header.is_some_and(|at| bytes.get(at + 12).is_some_and(|&b| b & 0x80 != 0)) {
        user_bail!("{source}: SMPTE timing is not supported (the encoder needs ticks per beat)");
    }
    if header == Some(0) {
        check_chunks(bytes, source)?;
    }
    let smf = Smf::parse(bytes).map_err(|e| reprolab_core::user_error(format!("{source}: not a MIDI file ({e})")))?;
    let Timing::Metrical(tpb) = smf.header.timing else {
        user_bail!("{source}: SMPTE timing is not supported (the encoder needs ticks per beat)");
    };
    let tpb = u64::from(tpb.as_int());
    let Some(track) = smf.tracks.first() else { user_bail!("{source}: the file has no tracks") };
    // None until a time-signature event: the official `[0, 0]`.
    let (mut tick, mut signature) = (0u64, None);
    let mut notes = Vec::new();
    for event in track {
        tick += u64::from(event.delta.as_int());
        match event.kind {
            TrackEventKind::Midi { message: MidiMessage::NoteOn { key, vel }, .. } if vel.as_int() > 0 => {
                notes.push((tick, key.as_int()));
            }
            TrackEventKind::Meta(MetaMessage::TimeSignature(num, denom_pow2, _, _)) => {
                signature = Some((u64::from(num), 1u64 << denom_pow2.min(16)));
            }
            _ => {}
        }
    }
    let Some((numerator, denominator)) = signature else {
        return Ok(Err(format!(
            "{source}: no time signature in the first track (skipped, as the official encoder skips it: it encodes x/4 only)"
        )));
    };
    // A 0/4 signature (a damaged file) would encode zero lines: an
    // empty groove that no later step can use.
    if numerator == 0 {
        user_bail!("{source}: time signature 0/{denominator} has no beats");
    }
    if denominator != 4 {
        return Ok(Err(format!(
            "{source}: time signature {numerator}/{denominator} is not x/4 (the encoding covers x/4 only)"
        )));
    }
    if notes.is_empty() {
        user_bail!("{source}: no drum hits (note-on events) in the first track");
    }
    let length = (MEASURE as u64 * numerator) as usize * 4;
    let (quarter, eighth) = (tpb / 4, tpb / 8);
    let mut lines = vec![[false; 6]; length];
    for (t, note) in notes {
        let k = if t < eighth { 0 } else { (t + eighth) / quarter.max(1) };
        let inside = k == 0 && t < eighth || k >= 1 && k * quarter - eighth <= t && t < k * quarter + eighth;
        if !inside || k as usize >= length {
            break;
        }
        if let Some(c) = column_of(note) {
            lines[k as usize][c] = true;
        }
    }
    Ok(Ok(Groove { lines }))
}

/// Reads and encodes a MIDI file.
/// Refuses a standard MIDI file whose chunks do not fill it exactly: midly
/// reads a track cut short as a shorter track, so a truncated download or
/// a half-copied file would otherwise encode silently as a shorter groove.
/// (Every one of the Groove MIDI Dataset's 1,613 files passes.)
fn check_chunks(bytes: &[u8], source: &str) -> Result<()> {
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 8) else {
            user_bail!("{source}: truncated (a chunk header at byte {at} is cut short)");
        };
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let remain = bytes.len() - at - 8;
        if len > remain {
            let kind = String::from_utf8_lossy(&head[..4]);
            user_bail!("{source}: truncated (the '{kind}' chunk at byte {at} declares {len} bytes, {remain} remain)");
        }
        at += 8 + len;
    }
    Ok(())
}

pub fn encode_file(path: &std::path::Path) -> Result<Groove> {
    encode_file_or_skip(path)?.map_err(reprolab_core::user_error)
}

/// [`encode_file`] with the official encoder's skips as `Ok(Err(why))`
/// (see [`encode_midi_or_skip`]).
pub fn encode_file_or_skip(path: &std::path::Path) -> Result<std::result::Result<Groove, String>> {
    let bytes =
        std::fs::read(path).map_err(|e| reprolab_core::user_error(format!("{}: cannot read ({e})", path.display())))?;
    encode_midi_or_skip(&bytes, &path.display().to_string())
}

/// The language-model example of a groove, as in `gpt3_*.jsonl`: leading
/// empty measures (first four lines all rests) are stripped; grooves left
/// with 128 lines or fewer are dropped (`None`); the prompt is the first
/// two measures, each followed by a `SEP` line; the completion is the rest
/// with `SEP` after every measure but the last, then `END`.
pub fn lm_example(groove: &Groove) -> Option<(String, String)> {
    let lines: Vec<String> = groove.without_leading_empty_measures().iter().map(line_text).collect();
    if lines.len() <= 128 {
        return None;
    }
    let with_seps = |chunk: &[String]| -> Vec<String> {
        chunk.chunks(MEASURE).map(|m| format!("{}\nSEP", m.join("\n"))).collect::<Vec<_>>()
    };
    let prompt: String = with_seps(&lines[..2 * MEASURE]).iter().map(|m| format!("{m}\n")).collect();
    let mut rest = with_seps(&lines[2 * MEASURE..]).join("\n");
    if let Some(stripped) = rest.strip_suffix("\nSEP") {
        rest = stripped.to_string();
    }
    Some((prompt, format!("{rest}\nEND")))
}

/// A playable standard MIDI file (format 0, 480 ticks per beat) of
/// `groove` at `bpm`: every hit is a 16th-note note-on/off pair on the
/// General MIDI drum channel (channel 10, index 9), velocity 100.
pub fn decode_midi(groove: &Groove, bpm: f64) -> Result<Vec<u8>> {
    if !(bpm.is_finite() && (20.0..=400.0).contains(&bpm)) {
        user_bail!("tempo {bpm} bpm is outside 20..400");
    }
    const TPB: u32 = 480;
    const STEP: u32 = TPB / 4;
    let channel = midly::num::u4::new(9);
    let mut events: Vec<(u32, TrackEventKind<'static>)> = Vec::new();
    let tempo = (60_000_000.0 / bpm).round() as u32;
    events.push((0, TrackEventKind::Meta(MetaMessage::Tempo(tempo.into()))));
    events.push((0, TrackEventKind::Meta(MetaMessage::TimeSignature(4, 2, 24, 8))));
    for (i, row) in groove.lines.iter().enumerate() {
        let start = i as u32 * STEP;
        for (c, &hit) in row.iter().enumerate() {
            if hit {
                let key = COLUMNS[c].into();
                events.push((
                    start,
                    TrackEventKind::Midi { channel, message: MidiMessage::NoteOn { key, vel: 100.into() } },
                ));
                let off = MidiMessage::NoteOff { key, vel: 0.into() };
                events.push((start + STEP - 1, TrackEventKind::Midi { channel, message: off }));
            }
        }
    }
    let end = groove.lines.len() as u32 * STEP;
    events.sort_by_key(|(t, _)| *t);
    let mut track = Vec::with_capacity(events.len() + 1);
    let mut last = 0;
    for (t, kind) in events {
        track.push(TrackEvent { delta: (t - last).into(), kind });
        last = t;
    }
    track.push(TrackEvent { delta: (end - last).into(), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    let smf =
        Smf { header: Header::new(Format::SingleTrack, Timing::Metrical((TPB as u16).into())), tracks: vec![track] };
    let mut out = Vec::new();
    smf.write_std(&mut out).context("writing MIDI")?;
    Ok(out)
}

/// Writes `groove` as a MIDI file at `path` (atomically) at `bpm`, or at
/// the tempo in the file name of `source` when `bpm` is `None`, else 120.
pub fn write_midi(groove: &Groove, path: &std::path::Path, bpm: Option<f64>, source: &str) -> Result<f64> {
    let stem = std::path::Path::new(source).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let bpm = bpm.or_else(|| bpm_from_name(&stem)).unwrap_or(120.0);
    let bytes = decode_midi(groove, bpm)?;
    reprolab_core::report::write_bytes_atomic(path, bytes)?;
    Ok(bpm)
}

/// The tempo in a Groove MIDI Dataset file name (`..._<bpm>_beat_4-4...`).
pub fn bpm_from_name(name: &str) -> Option<f64> {
    let parts: Vec<&str> = name.split('_').collect();
    // Only a tempo `decode_midi` accepts: a name such as `x_nan_beat`
    // falls back to the default tempo instead of failing the decode.
    parts
        .windows(2)
        .find(|w| w[1] == "beat" || w[1] == "fill")
        .and_then(|w| w[0].parse().ok())
        .filter(|bpm: &f64| bpm.is_finite() && (20.0..=400.0).contains(bpm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn articulations_merge_and_others_drop() {
        assert_eq!(column_of(40), Some(2));
        assert_eq!(column_of(46), Some(4));
        assert_eq!(column_of(58), Some(5));
        assert_eq!(column_of(44), None, "pedal hi-hat is dropped");
        assert_eq!(column_of(39), None);
    }

    #[test]
    fn decoding_then_encoding_round_trips() {
        let mut lines = vec![[false; 6]; 256];
        for (i, row) in lines.iter_mut().enumerate() {
            row[i % 6] = i % 3 != 0;
            row[3] = i % 4 == 0;
        }
        let groove = Groove { lines };
        let bytes = decode_midi(&groove, 120.0).unwrap();
        assert_eq!(encode_midi(&bytes, "round trip").unwrap(), groove);
        assert_eq!(Groove::parse(&groove.to_text(), "text").unwrap(), groove);
        let (lenient, repaired) = Groove::parse_lenient("o-----\n-oooo--\nSEP\n------\n");
        assert_eq!((lenient.lines.len(), repaired, lenient.lines[1]), (3, 1, [false; 6]));
    }

    #[test]
    fn bad_input_gets_a_message() {
        assert!(encode_midi(b"not midi", "x.mid").unwrap_err().to_string().starts_with("x.mid: not a MIDI file"));
        let err = Groove::parse("oo--o-\nbad\n", "g.txt").unwrap_err().to_string();
        assert_eq!(err, "g.txt: line 2 is not six 'o'/'-' characters: \"bad\"");
        assert!(decode_midi(&Groove { lines: vec![[true; 6]] }, 0.0).is_err());
        // a melody (middle C, E, G) is not a drum track
        let drums = decode_midi(&Groove { lines: vec![[true; 6]] }, 120.0).unwrap();
        let smf = Smf::parse(&drums).unwrap();
        let mut track = smf.tracks[0].clone();
        for event in &mut track {
            if let TrackEventKind::Midi {
                message: MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. },
                ..
            } = &mut event.kind
            {
                *key = (60 + key.as_int() % 3).into();
            }
        }
        let mut melody = Vec::new();
        Smf { header: smf.header, tracks: vec![track.clone()] }.write_std(&mut melody).unwrap();
        // without a time signature the official encoder skips the file (not 4/4)
        let mut unsigned = Vec::new();
        let no_signature: Vec<_> = track
            .iter()
            .filter(|e| !matches!(e.kind, TrackEventKind::Meta(MetaMessage::TimeSignature(..))))
            .cloned()
            .collect();
        Smf { header: smf.header, tracks: vec![no_signature] }.write_std(&mut unsigned).unwrap();
        let err = encode_midi(&unsigned, "u.mid").unwrap_err().to_string();
        assert!(err.starts_with("u.mid: no time signature in the first track (skipped"), "{err}");
        // a 3/8 groove is skipped too
        let mut eighths = track.clone();
        for e in &mut eighths {
            if let TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, ..)) = &mut e.kind {
                (*n, *d) = (3, 3);
            }
        }
        let mut three_eight = Vec::new();
        Smf { header: smf.header, tracks: vec![eighths] }.write_std(&mut three_eight).unwrap();
        let err = encode_midi(&three_eight, "e.mid").unwrap_err().to_string();
        assert!(err.contains("time signature 3/8 is not x/4"), "{err}");
        // the official encoder keeps such a file, as silence (one exists in data_midi)
        let groove = encode_midi(&melody, "song.mid").unwrap();
        assert!(groove.lines.iter().all(|l| l.iter().all(|&h| !h)));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("song.mid"), &melody).unwrap();
        let err = crate::model::read_groove(&dir.path().join("song.mid")).unwrap_err().to_string();
        assert!(err.ends_with("song.mid: not a drum track: none of its notes is a drum the encoding keeps"), "{err}");
        assert_eq!(bpm_from_name("1_110_rock-prog_190_beat_4-4"), Some(190.0));
    }
}
