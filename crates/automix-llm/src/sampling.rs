//! Choosing the next token from logits: greedy, or temperature + nucleus (top-p) with a seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplingParams {
    /// 0 means greedy decoding.
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    pub max_tokens: usize,
    /// Generation ends when the text ends with any of these; the stop string is not returned.
    pub stop: Vec<String>,
    /// Tokens the first generated token may not be (an answer that must not open with a heading,
    /// say). Log-probabilities stay those of the model's own distribution.
    #[serde(default)]
    pub never_first: Vec<u32>,
    /// End the answer where it begins to repeat, token for token, what it already said
    /// (`StopReason::Repetition`).
    #[serde(default = "stop_repeating_by_default")]
    pub stop_repeating: bool,
}

fn stop_repeating_by_default() -> bool {
    true
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self { temperature: 0.0, top_p: 1.0, seed: 299_792_458, max_tokens: 256, stop: Vec::new(), never_first: Vec::new(), stop_repeating: true }
    }
}

pub struct Sampler {
    temperature: f64,
    top_p: f64,
    rng: StdRng,
}

impl Sampler {
    pub fn new(params: &SamplingParams) -> Self {
        Self { temperature: params.temperature, top_p: params.top_p, rng: StdRng::seed_from_u64(params.seed) }
    }

    /// Returns the chosen token and its log-probability under the model's (temperature 1) distribution.
    pub fn sample(&mut self, logits: &[f32]) -> (u32, f32) {
        self.sample_excluding(logits, &[])
    }

    /// [`Sampler::sample`] that never picks one of `excluded`; the log-probability is still the
    /// one the model gave the chosen token among all tokens.
    pub fn sample_excluding(&mut self, logits: &[f32], excluded: &[u32]) -> (u32, f32) {
        let log_probs = log_softmax(logits, 1.0);
        let mut allowed = std::borrow::Cow::Borrowed(logits);
        for &token in excluded.iter().filter(|&&token| (token as usize) < logits.len()) {
            allowed.to_mut()[token as usize] = f32::NEG_INFINITY;
        }
        let token = if self.temperature <= 0.0 { argmax(&allowed) } else { self.nucleus(&log_softmax(&allowed, self.temperature)) };
        (token, log_probs[token as usize])
    }

    fn nucleus(&mut self, log_probs: &[f32]) -> u32 {
        let mut order: Vec<u32> = (0..log_probs.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| log_probs[b as usize].total_cmp(&log_probs[a as usize]));
        let mut kept = Vec::new();
        let mut mass = 0.0f64;
        for &id in &order {
            let p = (log_probs[id as usize] as f64).exp();
            kept.push((id, p));
            mass += p;
            if mass >= self.top_p {
                break;
            }
        }
        let mut draw = self.rng.random::<f64>() * mass;
        for &(id, p) in &kept {
            draw -= p;
            if draw <= 0.0 {
                return id;
            }
        }
        kept.last().map(|&(id, _)| id).unwrap_or(0)
    }
}

pub fn argmax(values: &[f32]) -> u32 {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap_or(0)
}

pub fn log_softmax(logits: &[f32], temperature: f64) -> Vec<f32> {
    let t = temperature as f32;
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) / t;
    let sum: f32 = logits.iter().map(|&l| (l / t - max).exp()).sum();
    let log_sum = sum.ln() + max;
    logits.iter().map(|&l| l / t - log_sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_largest_logit() {
        let mut sampler = Sampler::new(&SamplingParams::default());
        let (token, logprob) = sampler.sample(&[0.1, 3.0, -1.0]);
        assert_eq!(token, 1);
        assert!(logprob < 0.0 && logprob > -0.2);
    }

    #[test]
    fn same_seed_same_samples_and_top_p_cuts_the_tail() {
        let params = SamplingParams { temperature: 1.0, top_p: 0.5, ..Default::default() };
        let logits = [2.0, 1.9, -5.0, -5.0];
        let draw = |params: &SamplingParams| {
            let mut s = Sampler::new(params);
            (0..200).map(|_| s.sample(&logits).0).collect::<Vec<_>>()
        };
        let first = draw(&params);
        assert_eq!(first, draw(&params));
        assert!(first.iter().all(|&t| t <= 1), "top-p 0.5 must never reach the tail: {first:?}");
        let full = draw(&SamplingParams { top_p: 1.0, ..params });
        assert!(full.contains(&0) && full.contains(&1));
    }

    #[test]
    fn log_softmax_normalises() {
        let lp = log_softmax(&[1.0, 2.0, 3.0], 1.0);
        let total: f32 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-5);
    }
}
