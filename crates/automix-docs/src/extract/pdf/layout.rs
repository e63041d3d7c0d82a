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

/// A gap between two glyphs of a line wider than this many font sizes is a word space, where
/// PDFium put none: its own rule misses the narrow spaces of tightly set text ("viewspecification").
/// Kerning and letter gaps stay under about 0.05; the narrowest word spaces of justified text are
/// about 0.2.
pub(super) const WORD_GAP_IN_FONT_SIZES: f32 = 0.15;

/// Whether a space belongs between two glyphs of a line PDFium printed with nothing between them:
/// `gap` is the distance from the first's right edge to the second's left edge, on baselines at
/// most half a font size apart. Never between characters of scripts written without spaces.
pub(super) fn missing_space(previous: char, next: char, gap: f32, baseline_shift: f32, font_size: f32) -> bool {
    font_size > 0.0
        && gap > WORD_GAP_IN_FONT_SIZES * font_size
        && baseline_shift.abs() < 0.5 * font_size
        && !is_unspaced_script(previous)
        && !is_unspaced_script(next)
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
pub(super) fn is_unspaced_script(ch: char) -> bool {
    matches!(ch as u32,
        0x3000..=0x30FF | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xFF00..=0xFF60 | 0x20000..=0x3FFFF)
}

/// A glyph of a right-to-left line, with its horizontal extent on the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Glyph {
    pub ch: char,
    pub left: f32,
    pub right: f32,
    pub bottom: f32,
    pub top: f32,
    pub font_size: f32,
}

/// A gap between glyphs wider than this many font sizes is a word space. Arabic-script words
/// joined by a zero-width non-joiner (Persian می‌کند) sit closer than that.
const RTL_WORD_GAP_IN_FONT_SIZES: f32 = 0.1;

/// Whether a line is mostly Arabic or Hebrew, by its letters.
pub(super) fn is_right_to_left(text: &str) -> bool {
    let (rtl, ltr) = text.chars().fold((0, 0), |(rtl, ltr), ch| {
        if is_rtl_letter(ch) {
            (rtl + 1, ltr)
        } else if ch.is_alphabetic() {
            (rtl, ltr + 1)
        } else {
            (rtl, ltr)
        }
    });
    rtl > ltr
}

/// A right-to-left line in logical (reading) order, rebuilt from where its glyphs sit: PDF
/// producers may draw Arabic in visual order, which PDFium then returns reversed and unspaced.
/// Glyphs go right to left, a wide gap is a word space, combining marks stay on their letter,
/// and runs of Latin letters and digits read left to right again. None when the glyphs are not
/// on one baseline (PDFium joined two printed lines), where position says nothing about order.
pub(super) fn logical_rtl_line(glyphs: &[Glyph]) -> Option<String> {
    let first = glyphs.iter().find(|glyph| !is_combining_mark(glyph.ch))?;
    let middle = |glyph: &Glyph| (glyph.bottom + glyph.top) / 2.0;
    let off_line = |glyph: &&Glyph| (middle(glyph) - middle(first)).abs() > 0.6 * first.font_size.max(glyph.font_size);
    if glyphs.iter().filter(|glyph| !is_combining_mark(glyph.ch)).any(|glyph| off_line(&glyph)) {
        return None;
    }
    // Clusters: a base glyph and the combining marks drawn over or under it (by position: in a
    // visual-order stream the mark need not follow its letter).
    let (marks, bases): (Vec<&Glyph>, Vec<&Glyph>) = glyphs.iter().partition(|glyph| is_combining_mark(glyph.ch));
    let mut clusters: Vec<(String, Glyph)> = bases.iter().map(|glyph| (glyph.ch.to_string(), **glyph)).collect();
    clusters.sort_by(|(_, a), (_, b)| (b.left + b.right).total_cmp(&(a.left + a.right)));
    for mark in marks {
        let centre = (mark.left + mark.right) / 2.0;
        let distance = |glyph: &Glyph| (centre - (glyph.left + glyph.right) / 2.0).abs();
        if let Some((text, _)) = clusters.iter_mut().min_by(|(_, a), (_, b)| distance(a).total_cmp(&distance(b))) {
            text.push(mark.ch);
        }
    }
    // Right to left, with spaces at the gaps; left-to-right runs are collected and flipped.
    let mut words: Vec<(String, bool)> = Vec::new();
    let mut previous: Option<Glyph> = None;
    for (text, glyph) in clusters {
        let spaced = previous.is_some_and(|previous| previous.left - glyph.right > RTL_WORD_GAP_IN_FONT_SIZES * previous.font_size.max(glyph.font_size));
        let left_to_right = text.chars().next().is_some_and(|ch| !is_rtl_letter(ch) && ch.is_alphanumeric());
        match words.last_mut() {
            Some((word, ltr)) if !spaced && *ltr == left_to_right => word.push_str(&text),
            _ => words.push((text, left_to_right)),
        }
        if spaced {
            words.last_mut().expect("just pushed").0.insert(0, ' ');
        }
        previous = Some(glyph);
    }
    let mut line = String::new();
    let mut index = 0;
    while index < words.len() {
        if words[index].1 {
            // A run of left-to-right words, collected right to left, reads the other way. Each
            // word's leading space is the gap on its right: the first one goes before the run,
            // the others between the words they separate.
            let end = words[index..].iter().position(|(_, ltr)| !ltr).map_or(words.len(), |offset| index + offset);
            let run = &words[index..end];
            if run[0].0.starts_with(' ') {
                line.push(' ');
            }
            for (position, (word, _)) in run.iter().enumerate().rev() {
                line.extend(word.trim_start().chars().rev());
                if position > 0 && word.starts_with(' ') {
                    line.push(' ');
                }
            }
            index = end;
        } else {
            line.push_str(&words[index].0);
            index += 1;
        }
    }
    Some(line.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn is_rtl_letter(ch: char) -> bool {
    matches!(ch as u32, 0x0590..=0x05FF | 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF) && ch.is_alphabetic()
}

fn is_combining_mark(ch: char) -> bool {
    matches!(ch as u32, 0x0300..=0x036F | 0x0591..=0x05C7 | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06ED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_word_gap_is_a_space_and_kerning_is_not() {
        // 10 pt text: a 2 pt gap is a tight word space, 0.3 pt a letter gap.
        assert!(missing_space('w', 's', 2.0, 0.0, 10.0));
        assert!(!missing_space('w', 's', 0.3, 0.0, 10.0));
        assert!(!missing_space('w', 's', -0.5, 0.0, 10.0), "glyphs that overlap (kerning, right to left)");
        assert!(!missing_space('w', '2', 2.0, 6.0, 10.0), "a superscript raised off the baseline");
        assert!(!missing_space('文', '字', 3.0, 0.0, 10.0), "justified Chinese keeps its characters together");
    }

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

    fn glyphs(spec: &[(char, f32)]) -> Vec<Glyph> {
        spec.iter().map(|&(ch, left)| Glyph { ch, left, right: left + 5.0, bottom: 100.0, top: 110.0, font_size: 10.0 }).collect()
    }

    #[test]
    fn arabic_drawn_in_visual_order_reads_right_to_left_with_its_spaces() {
        // "في بيت 12" drawn left to right as a LuaTeX page shows it: "12", then بيت, then في.
        let drawn = glyphs(&[('1', 0.0), ('2', 5.0), ('ت', 20.0), ('ي', 25.0), ('ب', 30.0), ('ي', 45.0), ('ف', 50.0)]);
        assert_eq!(logical_rtl_line(&drawn).as_deref(), Some("في بيت 12"));
    }

    #[test]
    fn close_glyphs_stay_one_word_and_marks_stay_on_their_letter() {
        // می‌کند: a half-point non-joiner gap is not a word space; the hamza below stays after its alef.
        let mut drawn = glyphs(&[('د', 0.0), ('ن', 5.0), ('ک', 10.0), ('ی', 15.5), ('م', 20.5), ('ا', 40.0)]);
        drawn.push(Glyph { ch: '\u{655}', left: 40.0, right: 44.0, bottom: 95.0, top: 100.0, font_size: 10.0 });
        assert_eq!(logical_rtl_line(&drawn).as_deref(), Some("ا\u{655} میکند"));
    }

    #[test]
    fn glyphs_from_two_printed_lines_are_left_alone() {
        let mut drawn = glyphs(&[('ب', 0.0), ('ت', 5.0)]);
        drawn[1].bottom -= 30.0;
        drawn[1].top -= 30.0;
        assert_eq!(logical_rtl_line(&drawn), None);
        assert!(is_right_to_left("في بيت 12 abc") && !is_right_to_left("a page with one ب"));
    }

    #[test]
    fn moving_up_the_page_starts_a_new_paragraph() {
        let lines = [line("end of the left column", 100.0), line("top of the right column", 700.0)];
        assert_eq!(paragraphs(&lines).len(), 2);
    }
}
