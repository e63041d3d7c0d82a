-- Library 5: a page whose text was read by OCR keeps the mean confidence of its words (0-100);
-- NULL for pages with a text layer.
ALTER TABLE pages ADD COLUMN ocr_confidence REAL;
