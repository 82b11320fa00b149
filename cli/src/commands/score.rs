//! `ipc score`: score one questionnaire (PHQ-2, PHQ-9, GAD-7) given as a comma-separated answer
//! list, with the builtin definitions and the core's scoring. Needs no store and no PIN.
//!
//! The answer list is checked here first, answer by answer, so an error names the item and
//! the allowed values (never the value given, and never the list).

use std::io::Write;

use ipc_core::instruments::{score_values, Definition, Registry, Score};

use crate::args::{InstrumentArg, ScoreArgs};
use crate::commands::emit;
use crate::error::CliError;

/// The PHQ-9 flag for item 9 above 0.
const SELF_HARM_FLAG: &str = "self_harm_thoughts";

/// The builtin definition of `instrument`.
pub fn definition(instrument: InstrumentArg) -> Result<Definition, CliError> {
    let registry = Registry::builtin().map_err(|e| CliError::Answers(e.to_string()))?;
    registry
        .get(instrument.id())
        .cloned()
        .ok_or_else(|| CliError::Usage("unknown instrument (see --help)".to_owned()))
}

/// "2 answers", "9 answers (or 10 with the difficulty item last)".
fn expected_count(def: &Definition) -> String {
    let all = def.items().len();
    let scored = def.scored_items().count();
    if all == scored {
        format!("{scored} answers")
    } else {
        format!("{scored} answers (or {all} with the difficulty item last)")
    }
}

/// Parse `text` (values in item order, separated by commas) into values for `def`.
pub fn parse_answers(def: &Definition, text: &str) -> Result<Vec<u8>, CliError> {
    let bad = |msg: String| Err(CliError::Answers(msg));
    if text.trim().is_empty() {
        return bad(format!(
            "no answers given; expected {} separated by commas",
            expected_count(def)
        ));
    }
    let pieces: Vec<&str> = text.split(',').map(str::trim).collect();
    let all = def.items().len();
    let scored = def.scored_items().count();
    let items: Vec<_> = if pieces.len() == all {
        def.items().iter().collect()
    } else if pieces.len() == scored {
        def.scored_items().collect()
    } else {
        let empty = pieces.iter().filter(|p| p.is_empty()).count();
        let empty_note = match empty {
            0 => String::new(),
            1 => " (one of them empty)".to_owned(),
            n => format!(" ({n} of them empty)"),
        };
        return bad(format!(
            "expected {} separated by commas, got {}{empty_note}",
            expected_count(def),
            pieces.len()
        ));
    };
    let mut values = Vec::with_capacity(pieces.len());
    for (i, (piece, item)) in pieces.iter().zip(items).enumerate() {
        let max = def.options_for(item).map_or(0, |o| o.max_value());
        let at = format!("answer {} (item {})", i + 1, item.id);
        if piece.is_empty() {
            return bad(format!("{at} is missing; allowed values are 0–{max}"));
        }
        let Ok(number) = piece.parse::<i64>() else {
            return bad(format!(
                "{at} is not a whole number; allowed values are 0–{max}"
            ));
        };
        match u8::try_from(number) {
            Ok(v) if v <= max => values.push(v),
            _ => return bad(format!("{at} is out of range; allowed values are 0–{max}")),
        }
    }
    Ok(values)
}

/// Score `text` against `def`.
pub fn score_text(def: &Definition, text: &str) -> Result<Score, CliError> {
    let values = parse_answers(def, text)?;
    score_values(def, &values).map_err(|e| CliError::Answers(e.to_string()))
}

/// The short name of an instrument for people: `PHQ-9`.
fn short_name(id: &str) -> String {
    let upper = id.to_ascii_uppercase();
    match upper.find(|c: char| c.is_ascii_digit()) {
        Some(i) if i > 0 => format!("{}-{}", &upper[..i], &upper[i..]),
        _ => upper,
    }
}

/// A readable account of a score: total and band, flags, and the difficulty item.
pub fn score_lines(def: &Definition, score: &Score) -> String {
    let mut t = format!(
        "{} total {}/{}: {}\n",
        short_name(&score.instrument),
        score.total,
        score.max,
        score.band.replace('_', " ")
    );
    if score.flags.is_empty() {
        t.push_str("flags: none\n");
    } else {
        t.push_str(&format!("flags: {}\n", score.flags.join(", ")));
    }
    if score.flags.iter().any(|f| f == SELF_HARM_FLAG) {
        t.push_str("item 9 above 0: do a risk assessment now (involve the supervisor)\n");
    }
    if let Some(item_id) = def.scoring().difficulty_item.as_deref() {
        let text = match score.difficulty {
            Some(v) => {
                let label = def
                    .item(item_id)
                    .and_then(|item| def.options_for(item))
                    .and_then(|o| o.option(v))
                    .map(|o| format!(" ({})", o.text))
                    .unwrap_or_default();
                format!("{v}{label}")
            }
            None => "not answered".to_owned(),
        };
        t.push_str(&format!("difficulty (not scored): {text}\n"));
    }
    t
}

/// Run `ipc score`.
pub fn run(args: &ScoreArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let def = definition(args.instrument)?;
    let score = score_text(&def, &args.answers)?;
    let text = if args.json {
        let mut json = serde_json::to_string(&score)
            .map_err(|_| CliError::Output(std::io::ErrorKind::InvalidData))?;
        json.push('\n');
        json
    } else {
        score_lines(&def, &score)
    };
    emit(out, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(i: InstrumentArg) -> Definition {
        definition(i).unwrap()
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name("phq9"), "PHQ-9");
        assert_eq!(short_name("gad7"), "GAD-7");
        assert_eq!(short_name("x"), "X");
    }

    #[test]
    fn answers_are_checked_one_by_one_without_echoing_them() {
        let phq9 = def(InstrumentArg::Phq9);
        let cases = [
            ("", "no answers given; expected 9 answers (or 10"),
            ("  ", "no answers given"),
            (
                "1,2,3",
                "expected 9 answers (or 10 with the difficulty item last)",
            ),
            ("1,2,3,", "got 4 (one of them empty)"),
            ("1,,1,1,1,1,1,1,1", "answer 2 (item phq9_2) is missing"),
            (
                "1,1,1,1,1,1,1,1,x7",
                "answer 9 (item phq9_9) is not a whole number",
            ),
            (
                "1,1,1,1,1,1,1,1,47",
                "answer 9 (item phq9_9) is out of range",
            ),
            (
                "1,1,1,-47,1,1,1,1,1",
                "answer 4 (item phq9_4) is out of range",
            ),
            (
                "1,1,1,1,1,1,1,1,1,94",
                "answer 10 (item phq9_difficulty) is out of range; allowed values are 0–3",
            ),
            ("1.5,1,1,1,1,1,1,1,1", "not a whole number"),
        ];
        for (input, expected) in cases {
            let e = score_text(&phq9, input).unwrap_err();
            let line = e.line();
            assert!(line.contains(expected), "{input:?}: {line}");
            assert_eq!(e.exit_code(), 2);
            for secret in ["x7", "47", "94", "1.5"] {
                assert!(!line.contains(secret), "{input:?} echoed: {line}");
            }
        }
    }

    #[test]
    fn text_output_names_band_flags_and_difficulty() {
        let phq9 = def(InstrumentArg::Phq9);
        let s = score_text(&phq9, "3,3,2,2,2,2,2,2,1, 2").unwrap();
        let text = score_lines(&phq9, &s);
        assert_eq!(
            text,
            "PHQ-9 total 19/27: moderately severe\n\
             flags: self_harm_thoughts\n\
             item 9 above 0: do a risk assessment now (involve the supervisor)\n\
             difficulty (not scored): 2 (Very difficult)\n"
        );
        let gad7 = def(InstrumentArg::Gad7);
        let s = score_text(&gad7, "0,0,0,0,0,0,0").unwrap();
        assert_eq!(
            score_lines(&gad7, &s),
            "GAD-7 total 0/21: minimal\nflags: none\n"
        );
    }
}
