//! Turning a page's lines, as PDFium orders them, into paragraphs.
//!
//! PDFium already decodes the fonts, places word spaces from glyph positions, drops overprinted
//! duplicates and breaks lines; what it leaves is where one paragraph ends and how a line that
//! ends in a hyphenation point joins the next.

/// PDFium's mark for a hyphen it judged to be a line-end hyphenation point: "docu\u{2}ment",
/// usually with no line break of its own, so the word is already whole once the mark goes.
pub(super) const HYPHENATION_MARK: char = '\u{2}';

/// A baseline move of more than this many font sizes between two lines starts a new paragraph;
/// ordinary line spacing is 1.2 to 1.5 font sizes.
const PARAGRAPH_GAP_IN_FONT_SIZES: f32 = 1.6;

/// One line of a page: its text and where its first glyph sits.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub text: String,
    /// Baseline of the first glyph, in points from the bottom of the page (None for a line of
    /// generated characters only).
    pub baseline: Option<f32>,
    pub font_size: f32,
}

/// Groups lines into paragraphs: a break wherever the baseline jumps by more than a paragraph
/// gap or moves up the page (a new column, a caption, a footer read before the body).
pub(super) fn paragraphs(lines: &[Line]) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut previous: Option<(f32, f32)> = None;
    for line in lines {
        let text = line.text.trim();
        if text.is_empty() {
            continue;
        }
        if let (Some((previous_baseline, previous_size)), Some(baseline)) = (previous, line.baseline) {
            let drop = previous_baseline - baseline;
            let gap = PARAGRAPH_GAP_IN_FONT_SIZES * previous_size.max(line.font_size);
            if (drop > gap || drop < -0.5 * gap) && !current.is_empty() {
                paragraphs.push(finish(std::mem::take(&mut current)));
            }
        }
        join_line(&mut current, text);
        if let Some(baseline) = line.baseline {
            previous = Some((baseline, line.font_size));
        }
    }
    if !current.is_empty() {
        paragraphs.push(finish(current));
    }
    paragraphs
}

/// Appends a line: a hyphenation point joins the word halves, scripts written without spaces
/// (Chinese, Japanese) join directly, everything else gets a space.
fn join_line(paragraph: &mut String, line: &str) {
    if paragraph.ends_with(HYPHENATION_MARK) {
        paragraph.pop();
    } else if !paragraph.is_empty() {
        let last = paragraph.chars().next_back();
        let first = line.chars().next();
        if !(last.is_some_and(is_unspaced_script) && first.is_some_and(is_unspaced_script)) {
            paragraph.push(' ');
        }
    }
    paragraph.push_str(line);
}

/// Hyphenation marks inside a paragraph join the word halves; one that ends the paragraph (the
/// word goes on over the page or column) stays a printed hyphen.
fn finish(paragraph: String) -> String {
    let trailing = paragraph.ends_with(HYPHENATION_MARK);
    let mut joined: String = paragraph.chars().filter(|&ch| ch != HYPHENATION_MARK).collect();
    if trailing {
        joined.push('-');
    }
    joined
}

/// Han ideographs, kana and CJK punctuation: text in these scripts has no spaces between words.
fn is_unspaced_script(ch: char) -> bool {
    matches!(ch as u32,
        0x3000..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xFF00..=0xFF60 | 0x20000..=0x3FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, baseline: f32) -> Line {
        Line { text: text.to_string(), baseline: Some(baseline), font_size: 10.0 }
    }

    #[test]
    fn line_spacing_keeps_a_paragraph_and_a_gap_ends_it() {
        let lines = [line("Rivers run", 700.0), line("to the sea.", 688.0), line("Lakes do not.", 660.0)];
        assert_eq!(paragraphs(&lines), vec!["Rivers run to the sea.", "Lakes do not."]);
    }

    #[test]
    fn hyphenation_points_join_the_word_and_a_last_one_stays_a_hyphen() {
        let lines = [line("the docu\u{2}", 700.0), line("ment and the para\u{2}graph end in a hy\u{2}", 688.0)];
        assert_eq!(paragraphs(&lines), vec!["the document and the paragraph end in a hy-"]);
    }

    #[test]
    fn chinese_and_japanese_lines_join_without_a_space() {
        let lines = [line("日本語の文", 700.0), line("章です。English", 688.0), line("text", 676.0)];
        assert_eq!(paragraphs(&lines), vec!["日本語の文章です。English text"]);
    }

    #[test]
    fn moving_up_the_page_starts_a_new_paragraph() {
        let lines = [line("end of the left column", 100.0), line("top of the right column", 700.0)];
        assert_eq!(paragraphs(&lines).len(), 2);
    }
}
