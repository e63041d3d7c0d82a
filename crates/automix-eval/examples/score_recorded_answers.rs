//! Scores recorded large-model answers with this crate's metrics and compares with their
//! recorded `correct` flag — a check of the metrics on real data:
//!   cargo run --release -p automix-eval --example score_recorded_answers -- \
//!     ../shared/data/qa/quality.jsonl.gz ../shared/data/llm-answers/quality.jsonl.gz

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use automix_eval::{choice_accuracy, exact_match, open_lines, token_f1};
use serde::Deserialize;

#[derive(Deserialize)]
struct Item {
    id: String,
    answers: Vec<String>,
    metric: String,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    gold_index: Option<usize>,
}

#[derive(Deserialize)]
struct Recorded {
    id: String,
    model: String,
    answer: String,
    correct: bool,
    #[serde(default)]
    choice: Option<String>,
}

type Failure = Box<dyn std::error::Error>;

fn read<T: for<'de> Deserialize<'de>>(path: &str) -> Result<Vec<T>, Failure> {
    let mut out = Vec::new();
    for line in open_lines(Path::new(path))?.lines() {
        let line = line?;
        if !line.trim().is_empty() {
            out.push(serde_json::from_str(&line)?);
        }
    }
    Ok(out)
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [items_path, answers_path] = args.as_slice() else {
        return Err("usage: score_recorded_answers ITEMS.jsonl.gz LLM-ANSWERS.jsonl.gz".into());
    };
    let items: HashMap<String, Item> = read::<Item>(items_path)?.into_iter().map(|i| (i.id.clone(), i)).collect();
    // model → rows, recorded correct, our score sum, our correct (score ≥ 0.5) agreeing with
    // recorded, our exact match agreeing with recorded
    let mut per_model: Vec<(String, [f64; 5])> = Vec::new();
    for answer in read::<Recorded>(answers_path)? {
        let Some(item) = items.get(&answer.id) else { continue };
        let (score, exact) = match (item.metric.as_str(), item.gold_index) {
            ("accuracy", Some(gold)) => {
                let score = choice_accuracy(answer.choice.as_deref().unwrap_or(&answer.answer), &item.choices, gold);
                (score, score)
            }
            _ => (token_f1(&answer.answer, &item.answers), exact_match(&answer.answer, &item.answers)),
        };
        let slot = match per_model.iter().position(|(m, _)| *m == answer.model) {
            Some(i) => i,
            None => {
                per_model.push((answer.model.clone(), [0.0; 5]));
                per_model.len() - 1
            }
        };
        let totals = &mut per_model[slot].1;
        totals[0] += 1.0;
        totals[1] += f64::from(u8::from(answer.correct));
        totals[2] += score;
        totals[3] += f64::from(u8::from((score >= 0.5) == answer.correct));
        totals[4] += f64::from(u8::from((exact == 1.0) == answer.correct));
    }
    println!("| model | rows | recorded accuracy | our mean score | score ≥ 0.5 agrees with recorded | exact match agrees |");
    println!("|---|---|---|---|---|---|");
    for (model, [rows, recorded, score, agree, exact_agree]) in per_model {
        println!("| {model} | {rows} | {:.3} | {:.3} | {:.3} | {:.3} |", recorded / rows, score / rows, agree / rows, exact_agree / rows);
    }
    Ok(())
}
