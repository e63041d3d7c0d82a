//! Text ↔ token ids: from a `tokenizer.json` beside the model when there is one, else from GGUF metadata.

use std::path::Path;

use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::processors::byte_level::ByteLevel as ByteLevelProcessor;
use tokenizers::Tokenizer;

use crate::error::{LlmError, Result};
use crate::gguf::GgufFile;

pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Prefers `tokenizer.json` in the model's folder (exact upstream settings); falls back to the
    /// vocabulary and merges stored in the GGUF file.
    pub fn load(gguf: &GgufFile) -> Result<Self> {
        let beside = gguf.path.with_file_name("tokenizer.json");
        if beside.exists() {
            return Self::from_file(&beside);
        }
        let mut inner = Tokenizer::from_gguf(&gguf.content).map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        if gguf.string("tokenizer.ggml.pre").ok().as_deref() == Some("smollm") {
            use_smollm_pre_tokenizer(&mut inner);
        }
        Ok(Self { inner })
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = Tokenizer::from_file(path).map_err(|e| LlmError::Tokenizer(format!("cannot read {}: {e}", path.display())))?;
        Ok(Self { inner })
    }

    /// Token ids of `text`; special tokens written in the text (e.g. `<|im_start|>`) map to their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode(text, false).map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(|e| LlmError::Tokenizer(e.to_string()))
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// SmolLM's upstream tokenizer splits digits one by one and adds no prefix space. The generic GGUF
/// fallback uses GPT-2's prefix space, which inserts a space after every special token and so breaks
/// the chat format the model was trained on.
fn use_smollm_pre_tokenizer(tokenizer: &mut Tokenizer) {
    let pre = Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]);
    tokenizer.with_pre_tokenizer(Some(pre));
    tokenizer.with_decoder(Some(ByteLevelDecoder::new(false, true, true)));
    tokenizer.with_post_processor(Some(ByteLevelProcessor::new(false, true, true)));
}
