// The one-page document the tests add, and questions about it.
export const DOCUMENT_NAME = "brindlewood-ceramics.txt";

export const DOCUMENT_TEXT = `Brindlewood Ceramics — company profile

Brindlewood Ceramics is a small pottery company founded in 1987 by Ingrid Halvorsen in the
harbour town of Vardømoen, in northern Norway. The company started in a converted boat shed
with a single wood-fired kiln and two apprentices.

Products. Brindlewood makes stoneware tableware glazed in a deep sea-green colour called
"Fjordglass". Its best-known product is the Tidewater mug, first sold in 1993. In 2021 the company
sold 48,000 Tidewater mugs, about a third of its total sales.

People. Ingrid Halvorsen ran the company until 2015, when her nephew Tobias Lindqvist became
managing director. The head potter since 2009 is Maren Eide, who designed the Tidewater mug's
current handle. Brindlewood employs 34 people.

Premises. In 2004 the workshop moved from the boat shed to a former herring cannery on Kaigata
street. The cannery houses three electric kilns and the original wood-fired kiln, which is still
lit twice a year for the midsummer and midwinter firings.

Sales. About 60 percent of Brindlewood's pottery is exported, mostly to Germany and Japan. The
company's shop in Vardømoen is open every day from May to September and on Saturdays in winter.

Awards. Brindlewood won the Nordic Craft Prize in 2012 for its Fjordglass glaze, which is made
from local clay and crushed mussel shells.
`;

/** Answerable from one sentence: should stay local (no remote configured yet anyway). */
export const LOCAL_QUESTION = "Who founded Brindlewood Ceramics?";

/** Multi-hop questions the 135M model is unlikely to get right: candidates for escalation. */
export const HARD_QUESTIONS = [
  "How many years after the Tidewater mug was first sold did the workshop move into the former herring cannery, and who was head potter when the Nordic Craft Prize was won?",
  "Which relative of the founder ran the company when it sold 48,000 Tidewater mugs, and in which street was the workshop at that time?",
];

/** Asked with a zero budget: must stay local. */
export const BUDGET_ZERO_QUESTION = "Where is Brindlewood pottery exported to, and which glaze won a prize?";

/** For the remote-failure scenario. */
export const FAILURE_QUESTION = "In which year did Tobias Lindqvist become managing director?";

/** Payload preview. */
export const PAYLOAD_QUESTION = "What is the Fjordglass glaze made from?";

/**
 * A two-page PDF whose pages are printed "vii" and "viii" (a book's front matter), written by hand
 * with a correct cross-reference table: the document pane must show the physical page numbers
 * with those printed labels.
 */
export function labelledPdf(pages = ["The lighthouse keeper logs the weather at dawn.", "Storm warnings are raised on the east mast."]) {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R /PageLabels << /Nums [0 << /S /r /St 7 >>] >> >>",
    `<< /Type /Pages /Kids [${pages.map((_, i) => `${4 + 2 * i} 0 R`).join(" ")}] /Count ${pages.length} >>`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
  ];
  pages.forEach((text, i) => {
    const content = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`);
    objects.push(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`);
  });
  let pdf = "%PDF-1.4\n";
  const offsets = objects.map((body, i) => {
    const offset = pdf.length;
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return offset;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  pdf += offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("");
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

/** A document kept in a private folder: none of its words may reach the remote model. */
export const PRIVATE_NAME = "kiln-room.md";
export const PRIVATE_TEXT = "# Kiln room\n\nThe door code of the Brindlewood kiln room is 4471-ZEBRA. Only Ottilie Quist and the head potter know it.\n";
/** Words of PRIVATE_TEXT that must never appear in a request. */
export const PRIVATE_SECRETS = ["4471", "ZEBRA", "Ottilie", "Quist"];
export const PRIVATE_QUESTION = "What is the door code of the kiln room?";
export const MIXED_QUESTION = "What is the door code of the kiln room, and where is Brindlewood pottery exported to?";

/** Asked with redaction on: the e-mail address and the listed word must reach the remote model as placeholders. */
export const REDACTED_WORD = "Halvorsen";
export const REDACTED_EMAIL = "ingrid@brindlewood.example";
export const REDACTION_QUESTION = `Should I write to Ingrid Halvorsen at ${REDACTED_EMAIL} about the Tidewater mug?`;

/** What a program asks through the local API (8i): its own text as the context. */
export const API_CONTEXT = "The Harrowgate library lends up to eight books for three weeks.";
export const API_QUESTION = "How many books does the Harrowgate library lend?";

/** A fact known only from a scanned page (8j). */
export const SCAN_FACT = "The Quillmere ferry leaves the north pier at seven forty every morning.";
export const SCAN_QUESTION = "When does the Quillmere ferry leave the north pier?";
