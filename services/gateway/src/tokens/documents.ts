import { base64DataUrlPayloadStart, parseBase64DataUrl } from '../translate/data-url.js';
import { anthropicImageTokens, geminiMediaRule, openAiImageTokens } from './images.js';
import { type PdfReadBudget, pdfPages } from './pdf-pages.js';

/*
 * Tokens a PDF in a prompt costs: its pages (pdf-pages.ts) times what a page costs where it is
 * billed.
 *
 *   Gemini 2.x      258 a page (ai.google.dev/gemini-api/docs/document-processing: "Each
 *                   document page is equivalent to 258 tokens")
 *   Gemini 3+       560 a page: PDFs default to the MEDIUM media resolution
 *                   (ai.google.dev/gemini-api/docs/media-resolution, "Token counts"); Kordon
 *                   sends no media resolution
 *   Claude          each page is an image plus its text (platform.claude.com/docs/en/
 *                   build-with-claude/pdf-support: "typically 1,500-3,000 tokens per page"):
 *                   the model's image ceiling (1600; 4784 on Opus 4.7 and later, Claude 5) + 800 of text,
 *                   2,400 a page on most models
 *   OpenAI          the same: "we put into the model's context both the extracted text and an
 *                   image of each page" (developers.openai.com/api/docs/guides/pdf-files); the
 *                   image by the model's image rule for a page (US Letter at 150 dpi: 765 on
 *                   gpt-4o, 4 tiles) + 800 of text
 * Other vendors' models are estimated as Claude.
 *
 * A PDF whose pages cannot be read is taken by its size (pdf-pages.ts); an inline text file is
 * its text (textFileContent); a document given by URL or file id, or of another type, is the
 * caller's fallback (DOCUMENT_TOKENS in count.ts).
 */

/** Who bills the document: the rule of that vendor applies, whichever dialect carried it. */
export type DocumentBiller = 'openai' | 'gemini' | 'other';

const GEMINI_PDF_PAGE_TOKENS = 258;
/** Gemini 3's default media resolution for PDFs, MEDIUM. */
const GEMINI_3_PDF_PAGE_TOKENS = 560;
/** The text of a full page of prose (~600 words). */
export const PDF_PAGE_TEXT_TOKENS = 800;
/** A page as an image: US Letter at 150 dpi (4 tiles under the tile rule at any usual dpi). */
const PDF_PAGE_PIXELS = { width: 1275, height: 1650 };

/** Tokens of one PDF page for `model`. */
export function pdfPageTokens(biller: DocumentBiller, model: string): number {
  switch (biller) {
    case 'gemini':
      return geminiMediaRule(model) === 'tiles' ? GEMINI_PDF_PAGE_TOKENS : GEMINI_3_PDF_PAGE_TOKENS;
    case 'openai':
      return openAiImageTokens(model, 'high', PDF_PAGE_PIXELS).tokens + PDF_PAGE_TEXT_TOKENS;
    default:
      // A page image is at least as large as the model reads images: its ceiling.
      return anthropicImageTokens(model, null).tokens + PDF_PAGE_TEXT_TOKENS;
  }
}

/**
 * Tokens of a PDF given as base64 (an Anthropic `source.data`) or as a `data:...;base64,` URL
 * (OpenAI's `file_data`), or null when it is not one (another encoding or file type).
 */
export function pdfTokens(
  biller: DocumentBiller,
  model: string,
  data: string,
  budget?: PdfReadBudget,
): number | null {
  let offset = 0;
  if (data.slice(0, 'data:'.length).toLowerCase() === 'data:') {
    // `;BASE64` too, as the translators read it: a PDF sent is a PDF counted.
    const start = base64DataUrlPayloadStart(data);
    if (start === undefined) return null;
    offset = start;
  }
  const pdf = pdfPages(Buffer.from(offset === 0 ? data : data.slice(offset), 'base64'), budget);
  return pdf === null ? null : pdf.pages * pdfPageTokens(biller, model);
}

/**
 * Media types whose files a model reads as their text: OpenAI's Responses `input_file` "extracts
 * text only" from text and code files (developers.openai.com/api/docs/guides/file-inputs), and
 * Gemini reads a text/plain inlineData as text. CSV and TSV are left out: OpenAI reads the first
 * 1,000 rows of a sheet and a summary, not the whole file.
 */
const TEXT_FILE_TYPE =
  /^(?:text\/(?!csv$|tab-separated-values$)[\w.+-]+|application\/(?:json|xml|(?:x-)?yaml|(?:x-)?javascript|typescript|x-sh|x-python|sql|[\w.-]+\+(?:json|xml)))$/;

/**
 * The text of a file given as a `data:<text type>;base64,` URL (a text, Markdown, JSON or code
 * file), or null when it is not one.
 */
export function textFileContent(data: string): string | null {
  const file = parseBase64DataUrl(data);
  if (file === undefined || !TEXT_FILE_TYPE.test(file.mediaType)) return null;
  return Buffer.from(file.data, 'base64').toString('utf8');
}
