//! A text layer that is only noise: what a scanner's built-in OCR writes under a poor scan
//! ("~ ,;. i~ t'\"- l:."), a font without a usable encoding (U+FFFD, private-use characters), or
//! Cyrillic decoded as Latin-1 ("Ã‘Ã€Ã"). Such a page is read by OCR as if it had no text layer,
//! and OCR's text is kept where it reads better.

/// Fewer words than this on a page says nothing either way (a page number, a caption).
const MIN_TOKENS: usize = 20;
/// A page whose share of tokens that are not words reaches this is noise. Born-digital prose
/// stays under 0.15; a page of equations can reach about 0.4.
const NOISE_SHARE: f32 = 0.5;

/// The share of `text`'s whitespace-separated tokens that are not words; None below
/// [`MIN_TOKENS`] tokens.
pub(super) fn noise_share(text: &str) -> Option<f32> {
    // Leaders (". . . . 12" in a table of contents, rules of dashes) are neither words nor noise.
    let tokens: Vec<&str> = text.split_whitespace().filter(|token| !is_leader(token)).collect();
    if tokens.len() < MIN_TOKENS {
        return None;
    }
    let noise = tokens.iter().filter(|token| !is_word(token)).count();
    Some(noise as f32 / tokens.len() as f32)
}

/// Whether a page's text layer is noise rather than text.
#[cfg(test)]
fn is_noise(text: &str) -> bool {
    noise_share(text).is_some_and(is_noise_share)
}

/// Whether a page with this share of noise tokens is noise rather than text.
pub(super) fn is_noise_share(share: f32) -> bool {
    share >= NOISE_SHARE
}

/// A word: after its surrounding punctuation, mostly letters and digits (Chinese and Japanese
/// run whole sentences, punctuation included, into one token), with no undecodable or
/// mis-decoded character and no mix of look-alike scripts.
fn is_word(token: &str) -> bool {
    let core = token.trim_matches(|ch: char| !ch.is_alphanumeric());
    if core.is_empty() {
        return false;
    }
    let mut script = None;
    let (mut latin1_run, mut alphanumeric, mut other) = (0, 0, 0);
    for ch in core.chars() {
        if is_undecodable(ch) {
            return false;
        }
        latin1_run = if matches!(ch as u32, 0xC0..=0xFF) { latin1_run + 1 } else { 0 };
        if latin1_run >= 3 {
            return false;
        }
        if !ch.is_alphanumeric() {
            other += 1;
            continue;
        }
        alphanumeric += 1;
        if let Some(this) = confusable_script(ch) {
            if script.is_some_and(|seen| seen != this) {
                return false;
            }
            script = Some(this);
        }
    }
    alphanumeric >= other
}

fn is_leader(token: &str) -> bool {
    let mut chars = token.chars();
    matches!((chars.next(), chars.next()), (Some('.' | '·' | '…' | '_' | '-' | '–' | '—' | '•' | '*' | '='), None))
}

fn is_undecodable(ch: char) -> bool {
    matches!(ch as u32, 0xFFFD | 0xE000..=0xF8FF | 0x80..=0x9F | 0xF0000..=0x10FFFF)
}

/// Latin, Greek and Cyrillic, whose look-alike letters OCR confuses ("Тhе" with a Cyrillic Т);
/// None for every other script, which mixes with Latin in real words ("LaTeXの", "PDF파일").
fn confusable_script(ch: char) -> Option<u8> {
    match ch as u32 {
        0..=0x024F | 0x1E00..=0x1EFF => Some(0),
        0x0370..=0x03FF | 0x1F00..=0x1FFF => Some(1),
        0x0400..=0x052F => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROSE: &str = "The committee meets on the first Tuesday of each month, at 7:30 p.m., in the \
        library's upstairs room. Members who cannot attend may send a written note to the secretary \
        (Mrs. O'Neill) before noon; notes arriving later are read at the next meeting.";

    #[test]
    fn prose_in_any_script_is_text() {
        assert!(noise_share(PROSE).is_some_and(|share| share < 0.15), "{:?}", noise_share(PROSE));
        let russian = "Комитет собирается в первый вторник каждого месяца, в половине восьмого вечера, \
            в верхней комнате библиотеки. Члены комитета, которые не могут прийти, присылают записку секретарю.";
        assert!(!is_noise(russian));
        let equations = "Let x = (a + b) / 2 and y = a - b , then x ^ 2 - y ^ 2 / 4 = a b holds for all real a and b ; \
            hence the mean bounds the product as claimed in ( 3 ) above .";
        assert!(!is_noise(equations), "{:?}", noise_share(equations));
        // Japanese and Korean run Latin words into their own without spaces.
        let mixed = "LaTeXの文書は、プリアンブルと本文からなる。\\documentclassで文書クラスを指定し、\\usepackageでパッケージを読み込む。             PDF파일을 만들려면 pdflatex를 실행합니다. 한글 문서는 kotex패키지를 사용합니다. 이 장에서는 기본적인 사용법을 설명합니다. 표와 그림도 다룹니다.             각 절에는 예제가 있습니다. 예제를 따라 해 보십시오.";
        assert!(!is_noise(mixed), "{:?}", noise_share(mixed));
    }

    #[test]
    fn a_scanners_garbage_layer_and_mis_decoded_text_are_noise() {
        let scanner = "~ ,;. i~ t'\"- ~..,' ':. 'r\" -; l:. ,'- =- ~~ '' ., ;: -~ ,, '. \\ ~' ;; :. -- ,' .~ ~- .. ' ; ~";
        assert!(is_noise(scanner), "{:?}", noise_share(scanner));
        let undecodable = std::iter::repeat_n("\u{E012}\u{E044}\u{E031} \u{FFFD}\u{FFFD}", 12).collect::<Vec<_>>().join(" ");
        assert!(is_noise(&undecodable));
        let mojibake = std::iter::repeat_n("ÊÎÌÈÒÅÒ ñîáèðàåòñÿ â ïåðâûé", 6).collect::<Vec<_>>().join(" ");
        assert!(is_noise(&mojibake), "{:?}", noise_share(&mojibake));
        let confused = std::iter::repeat_n("Тhе соmmittее mееts оn thе first Тuesdаy", 4).collect::<Vec<_>>().join(" ");
        assert!(is_noise(&confused), "{:?}", noise_share(&confused));
    }

    #[test]
    fn a_table_of_contents_is_text() {
        let contents = (1..=12).map(|chapter| format!("Chapter {chapter} . . . . . . . . . . . . . . . . . . {}", chapter * 7)).collect::<Vec<_>>().join("\n");
        assert!(!is_noise(&contents), "{:?}", noise_share(&contents));
    }

    #[test]
    fn a_short_page_is_not_judged() {
        assert_eq!(noise_share("~ ,;. 17"), None);
    }
}
