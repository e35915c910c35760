// A minimal .docx writer for tests: a ZIP holding [Content_Types].xml and word/document.xml built
// from paragraphs.
import { makeZip } from '../support/make-zip.ts';

const CONTENT_TYPES =
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ' +
  'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>';

/** word/document.xml around body XML (paragraphs written by the caller). */
export function documentXml(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' +
    body +
    '<w:sectPr><w:pgSz w:w="12240" w:h="15840"/></w:sectPr></w:body></w:document>'
  );
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A paragraph of one run. */
export const para = (text: string) => `<w:p><w:pPr><w:pStyle w:val="Normal"/></w:pPr><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">${escapeXml(text)}</w:t></w:r></w:p>`;

export function makeDocx(body: string, options: { deflate?: boolean } = {}): Buffer {
  const stored = options.deflate === false;
  return makeZip([
    { name: '[Content_Types].xml', data: Buffer.from(CONTENT_TYPES), stored },
    { name: 'word/document.xml', data: Buffer.from(documentXml(body)), stored },
  ]);
}
