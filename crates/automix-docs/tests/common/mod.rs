//! Sample documents written by the tests themselves, and access to the embedding model.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use automix_docs::{default_model_dir, Embedder};
use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

/// The embedding model from the model manager's folder; a missing model fails the test loudly.
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = default_model_dir();
        assert!(
            dir.join("model.safetensors").is_file(),
            "all-MiniLM-L6-v2 is not in {}; run `make test` or `automix models pull all-minilm-l6-v2` first",
            dir.display()
        );
        Embedder::load(&dir, &candle_core::Device::Cpu).expect("load all-MiniLM-L6-v2")
    })
}

/// A PDF with one text line per paragraph; paragraphs are 30pt apart, like separate blocks.
pub fn pdf_bytes(pages: &[&[&str]], title: Option<&str>) -> Vec<u8> {
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let font_id = document.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = document.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for paragraphs in pages {
        let mut operations =
            vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()]), Operation::new("Td", vec![50.into(), 780.into()])];
        for (index, paragraph) in paragraphs.iter().enumerate() {
            if index > 0 {
                operations.push(Operation::new("Td", vec![0.into(), (-30).into()]));
            }
            operations.push(Operation::new("Tj", vec![Object::string_literal(*paragraph)]));
        }
        operations.push(Operation::new("ET", vec![]));
        kids.push(add_page(&mut document, pages_id, Content { operations }));
    }
    finish_pdf(document, pages_id, resources_id, kids, title)
}

/// [`pdf_bytes`] whose catalog gives page labels as a printed book numbers its pages: the first
/// `front_matter` pages in lower-case roman numerals, the rest from 1.
pub fn labelled_pdf_bytes(pages: &[&[&str]], front_matter: i64) -> Vec<u8> {
    let mut document = Document::load_mem(&pdf_bytes(pages, None)).expect("reload sample pdf");
    let labels = dictionary! {
        "Nums" => vec![0.into(), dictionary! { "S" => "r" }.into(), front_matter.into(), dictionary! { "S" => "D" }.into()],
    };
    let catalog_id = document.trailer.get(b"Root").and_then(Object::as_reference).expect("catalog");
    document.get_dictionary_mut(catalog_id).expect("catalog dictionary").set("PageLabels", labels);
    let mut bytes = Vec::new();
    document.save_to(&mut bytes).expect("write labelled pdf");
    bytes
}

/// A PDF whose only page draws a filled rectangle, as a scan would carry an image.
pub fn image_only_pdf_bytes() -> Vec<u8> {
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let resources_id = document.add_object(dictionary! {});
    let operations = vec![Operation::new("re", vec![10.into(), 10.into(), 300.into(), 300.into()]), Operation::new("f", vec![])];
    let page = add_page(&mut document, pages_id, Content { operations });
    finish_pdf(document, pages_id, resources_id, vec![page], None)
}

/// A one-page A4 PDF whose only content is this greyscale image, scaled to the page: a scan.
pub fn scanned_pdf_bytes(pixels: &[u8], width: usize, height: usize) -> Vec<u8> {
    scanned_pdf_pages(&[(pixels, width, height)])
}

/// An A4 PDF of scanned pages: each page's only content is its greyscale image, scaled to the page.
pub fn scanned_pdf_pages(images: &[(&[u8], usize, usize)]) -> Vec<u8> {
    scanned_pdf(images, &[])
}

/// A one-page scan with an invisible text layer of these lines over the image, as a scanner's
/// built-in OCR writes one.
pub fn scanned_pdf_with_layer(pixels: &[u8], width: usize, height: usize, layer: &[&str]) -> Vec<u8> {
    scanned_pdf(&[(pixels, width, height)], layer)
}

fn scanned_pdf(images: &[(&[u8], usize, usize)], layer: &[&str]) -> Vec<u8> {
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let mut xobjects = lopdf::Dictionary::new();
    let mut contents = Vec::new();
    for (index, (pixels, width, height)) in images.iter().enumerate() {
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => *width as i64, "Height" => *height as i64,
                "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
            },
            pixels.to_vec(),
        );
        let name = format!("Im{index}");
        xobjects.set(name.as_bytes(), document.add_object(image));
        contents.push(vec![
            Operation::new("q", vec![]),
            Operation::new("cm", vec![595.into(), 0.into(), 0.into(), 842.into(), 0.into(), 0.into()]),
            Operation::new("Do", vec![Object::Name(name.into_bytes())]),
            Operation::new("Q", vec![]),
        ]);
    }
    if !layer.is_empty() {
        let text = contents.last_mut().expect("a page");
        // Render mode 3: invisible, where a scanner puts its OCR under the image.
        text.extend([Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 10.into()]), Operation::new("Tr", vec![3.into()])]);
        text.push(Operation::new("Td", vec![50.into(), 780.into()]));
        for line in layer {
            text.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
            text.push(Operation::new("Td", vec![0.into(), (-14).into()]));
        }
        text.push(Operation::new("ET", vec![]));
    }
    let font_id = document.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = document.add_object(dictionary! { "XObject" => xobjects, "Font" => dictionary! { "F1" => font_id } });
    let kids = contents.into_iter().map(|operations| add_page(&mut document, pages_id, Content { operations })).collect();
    finish_pdf(document, pages_id, resources_id, kids, None)
}

/// A small PDF whose one page's content stream inflates to `inflated_bytes` of text-showing
/// operators: a generator bug, or a hostile file in a synced folder.
pub fn inflate_bomb_pdf_bytes(inflated_bytes: usize) -> Vec<u8> {
    let mut content = b"BT /F1 12 Tf 50 700 Td\n".to_vec();
    let operator = b"(AAAA) Tj\n";
    content.reserve(inflated_bytes);
    while content.len() < inflated_bytes {
        content.extend_from_slice(operator);
    }
    content.extend_from_slice(b"ET\n");
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&content).expect("deflate");
    let deflated = encoder.finish().expect("deflate");
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let font_id = document.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let resources_id = document.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let stream = Stream::new(dictionary! { "Filter" => "FlateDecode" }, deflated).with_compression(false);
    let content_id = document.add_object(stream);
    let page = document.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id }).into();
    finish_pdf(document, pages_id, resources_id, vec![page], None)
}

/// A text PDF whose trailer demands a password the tests never give.
pub fn encrypted_pdf_bytes() -> Vec<u8> {
    let plain = pdf_bytes(&[&["Secret quarterly numbers."]], None);
    let mut document = Document::load_mem(&plain).expect("reload sample pdf");
    let encrypt_id = document.add_object(dictionary! {
        "Filter" => "Standard", "V" => 1, "R" => 2, "P" => -44,
        "O" => Object::string_literal(vec![7u8; 32]), "U" => Object::string_literal(vec![9u8; 32]),
    });
    document.trailer.set("Encrypt", encrypt_id);
    let id = Object::string_literal(vec![1u8; 16]);
    document.trailer.set("ID", vec![id.clone(), id]);
    let mut bytes = Vec::new();
    document.save_to(&mut bytes).expect("write encrypted pdf");
    bytes
}

fn add_page(document: &mut Document, pages_id: lopdf::ObjectId, content: Content) -> Object {
    let stream = Stream::new(dictionary! {}, content.encode().expect("encode page content"));
    let content_id = document.add_object(stream);
    document.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id }).into()
}

fn finish_pdf(mut document: Document, pages_id: lopdf::ObjectId, resources_id: lopdf::ObjectId, kids: Vec<Object>, title: Option<&str>) -> Vec<u8> {
    let count = kids.len() as i64;
    let pages = dictionary! {
        "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    };
    document.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    document.trailer.set("Root", catalog_id);
    if let Some(title) = title {
        let info_id = document.add_object(dictionary! { "Title" => Object::string_literal(title) });
        document.trailer.set("Info", info_id);
    }
    let mut bytes = Vec::new();
    document.save_to(&mut bytes).expect("write pdf");
    bytes
}

/// A DOCX whose paragraphs carry Word's built-in heading styles where `style` is given.
pub fn docx_bytes(title: &str, paragraphs: &[(Option<&str>, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (style, text) in paragraphs {
        body.push_str("<w:p>");
        if let Some(style) = style {
            body.push_str(&format!("<w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr>"));
        }
        // Two runs per paragraph, as Word writes them after edits.
        let middle = text.len() / 2;
        let split = (middle..text.len()).find(|index| text.is_char_boundary(*index)).unwrap_or(text.len());
        for run in [&text[..split], &text[split..]] {
            body.push_str(&format!("<w:r><w:t xml:space=\"preserve\">{}</w:t></w:r>", xml_escape(run)));
        }
        body.push_str("</w:p>");
    }
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let core = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><cp:coreProperties \
         xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title></cp:coreProperties>",
        xml_escape(title)
    );
    let content_types = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
        <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default();
        for (name, content) in [("[Content_Types].xml", content_types), ("word/document.xml", &document), ("docProps/core.xml", &core)] {
            zip.start_file(name, options).expect("zip entry");
            zip.write_all(content.as_bytes()).expect("zip write");
        }
        zip.finish().expect("finish zip");
    }
    buffer.into_inner()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Lowercased words of letters and digits (punctuation and hyphenation aside).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|word| word.chars().count() > 1).map(str::to_lowercase).collect()
}

/// Share of the reference's words (with repeats) found in the OCR text: how OCR is scored.
pub fn word_recall(reference: &str, read: &str) -> f64 {
    let read: std::collections::HashSet<String> = words(read).into_iter().collect();
    let reference = words(reference);
    reference.iter().filter(|word| read.contains(*word)).count() as f64 / reference.len().max(1) as f64
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create sample folder");
    }
    std::fs::write(&path, bytes).expect("write sample file");
    path
}
