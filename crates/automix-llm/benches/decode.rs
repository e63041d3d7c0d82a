//! Prefill and decode speed of the local chat model, as `automix bench` measures it, without the
//! CLI: `cargo bench -p automix-llm --bench decode -- [PROMPT_TOKENS] [DECODE_TOKENS]`.
//!
//! The model is `AUTOMIX_BENCH_MODEL`, or the catalog's default under the user's models folder.
//! `AUTOMIX_CPU_KERNELS=avx2` measures the AVX2 kernels on an AVX-512 machine.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use automix_llm::{KvCache, LocalModel, Logits};
use candle_core::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let prompt_len: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(512);
    let decode: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(128);
    let path = match std::env::var_os("AUTOMIX_BENCH_MODEL") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?)
            .join(".local/share/automix/models/smollm2-135m-instruct/SmolLM2-135M-Instruct-Q8_0.gguf"),
    };
    let model = LocalModel::load(&path, &Device::Cpu)?;
    let vocab = model.config().vocab_size as u32;
    // Token ids spread over the vocabulary: the speed does not depend on what they say.
    let prompt: Vec<u32> = (0..prompt_len as u32).map(|i| 100 + i * 7919 % (vocab - 200)).collect();
    let never = AtomicBool::new(false);
    let (mut prefill, mut decoding) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let mut cache = KvCache::new();
        let started = Instant::now();
        let mut logits = model.prefill(&prompt, &mut cache, &never)?;
        prefill.push(prompt_len as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        for _ in 0..decode {
            let row = logits.to_vec1::<f32>()?;
            let token = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0) as u32;
            logits = model.forward(&[token], &mut cache, Logits::Last)?;
        }
        decoding.push(decode as f64 / started.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "kernels {:?}: prefill {prompt_len} tokens {:.0} tok/s (runs {:.0?}), decode {decode} tokens {:.1} tok/s (runs {:.1?})",
        automix_llm::kernels::isa(),
        median(&mut prefill.clone()),
        prefill,
        median(&mut decoding.clone()),
        decoding
    );
    Ok(())
}
