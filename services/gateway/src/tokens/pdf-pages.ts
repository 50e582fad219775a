import { constants, inflateSync } from 'node:zlib';

/*
 * How many pages a PDF has, read from its bytes without a PDF library: the page tree's root
 * (`<< /Type /Pages /Kids [...] /Count N >>`, PDF 32000-1 section 7.7.3.2) counts every page
 * below it, so the largest /Count of a /Pages dictionary is the document's page count.
 *
 * Since PDF 1.5 the page tree is often inside a compressed object stream (`/Type /ObjStm`,
 * pdfTeX and Word write them): those streams (FlateDecode, small) are inflated and read the
 * same way, within a budget. A PDF read neither way (encrypted streams, another filter) is
 * estimated by its size: BYTES_PER_PAGE a page, at least 1 and at most MAX_SIZE_PAGES.
 */

/** The byte size of a page, to estimate a PDF whose page tree cannot be read: on the high side. */
export const BYTES_PER_PAGE = 3 * 1024;
/** The most pages a size estimate gives: Claude and OpenAI take at most 100 pages a request. */
export const MAX_SIZE_PAGES = 100;

/** Bytes a dictionary is looked for around its /Type, each way (a /Kids array of thousands of pages). */
const DICT_WINDOW = 256 * 1024;
/** Object streams inflated at most, and their inflated bytes at most, for one PDF. */
const MAX_OBJECT_STREAMS = 256;
export const MAX_INFLATED_BYTES = 8 * 1024 * 1024;
/**
 * Bytes the dictionary scans may read for one PDF (each found dictionary is read about twice):
 * a crafted PDF of thousands of `/Type /Pages` with no dictionary around them stops here.
 */
const SCAN_BUDGET = 4 * 1024 * 1024;

const LT = 0x3c;
const GT = 0x3e;

/** PDF white-space and delimiter characters: where a name ends. */
function endsName(c: number | undefined): boolean {
  return c === undefined || ' \t\n\r\f\0()<>[]{}/%'.includes(String.fromCharCode(c));
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c || c === 0x00;
}

/** Whether the bytes start like a PDF (`%PDF-` within the first 1 KiB, as readers allow). */
export function isPdf(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).includes('%PDF-');
}

/**
 * What reading PDFs may still cost: the budgets above, shared by every PDF of one count (one
 * request), not one each: a 10 MiB prompt holds ~900 PDFs of an 8 MiB object stream apiece.
 */
export interface PdfReadBudget extends Budget {
  /** Object-stream bytes that may still be inflated. */
  inflate: number;
}

export function pdfReadBudget(): PdfReadBudget {
  return { left: SCAN_BUDGET, inflate: MAX_INFLATED_BYTES };
}

/**
 * The pages of a PDF: its page tree's count when readable (`counted`), else an estimate from
 * its size. Null when the bytes are not a PDF.
 */
export function pdfPages(
  bytes: Uint8Array,
  budget: PdfReadBudget = pdfReadBudget(),
): { pages: number; counted: boolean } | null {
  if (!isPdf(bytes)) return null;
  const counted = pdfPageCount(bytes, budget);
  if (counted !== null) return { pages: counted, counted: true };
  const bySize = Math.ceil(bytes.length / BYTES_PER_PAGE);
  return { pages: Math.min(Math.max(bySize, 1), MAX_SIZE_PAGES), counted: false };
}

/** The page count a PDF's page tree declares, or null when no /Pages dictionary is readable. */
export function pdfPageCount(bytes: Uint8Array, budget: PdfReadBudget = pdfReadBudget()): number | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const plain = largestPagesCount(buf, budget);
  if (plain !== null) return plain;
  let best: number | null = null;
  let streams = 0;
  for (const dict of dictionariesOfType(buf, '/ObjStm', budget)) {
    if (streams++ >= MAX_OBJECT_STREAMS || budget.inflate <= 0) break;
    const data = streamData(buf, dict);
    if (data === null) continue;
    let objects: Buffer;
    try {
      // A truncated stream still gives what it has; a bomb stops at the budget (and throws).
      objects = inflateSync(data, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: budget.inflate,
      });
    } catch {
      // It may have inflated the whole budget before it threw (a bomb, a corrupt tail): spent,
      // or each of 256 bombs of a PDF would inflate 8 MiB again.
      budget.inflate = 0;
      continue;
    }
    budget.inflate -= objects.length;
    const count = largestPagesCount(objects, budget);
    if (count !== null && (best === null || count > best)) best = count;
  }
  return best;
}

/** What is left of SCAN_BUDGET. */
interface Budget {
  left: number;
}

function largestPagesCount(buf: Buffer, budget: Budget): number | null {
  let best: number | null = null;
  for (const dict of dictionariesOfType(buf, '/Pages', budget)) {
    const count = directCount(buf, dict);
    if (count !== null && (best === null || count > best)) best = count;
  }
  return best;
}

interface Dict {
  /** Index of its `<<` and just past its `>>`. */
  readonly start: number;
  readonly end: number;
}

/** The dictionaries whose /Type is `name` (`/Type /Pages`, `/Type/ObjStm`). */
function* dictionariesOfType(buf: Buffer, name: string, budget: Budget): Generator<Dict> {
  for (let at = buf.indexOf(name); at >= 0 && budget.left > 0; at = buf.indexOf(name, at + name.length)) {
    if (!endsName(buf[at + name.length])) continue; // `/PagesX`
    let i = at - 1;
    while (isSpace(buf[i])) i--;
    if (i < 4 || buf.toString('latin1', i - 4, i + 1) !== '/Type') continue; // `/Pages 3 0 R` of a catalog
    const dict = enclosingDict(buf, i - 4, budget);
    if (dict !== null) yield dict;
  }
}

/** The dictionary around `at`: back to its unmatched `<<`, on to the `>>` that closes it. */
function enclosingDict(buf: Buffer, at: number, budget: Budget): Dict | null {
  const window = Math.min(DICT_WINDOW, budget.left);
  let depth = 0;
  let start = -1;
  let i = at - 1;
  for (; i > 0 && i >= at - window; i--) {
    if (buf[i] === GT && buf[i - 1] === GT) {
      depth++;
      i--;
    } else if (buf[i] === LT && buf[i - 1] === LT) {
      if (depth === 0) {
        start = i - 1;
        break;
      }
      depth--;
      i--;
    }
  }
  budget.left -= at - i;
  if (start < 0) return null;
  depth = 0;
  let end = -1;
  const limit = Math.min(buf.length - 1, at + window);
  for (i = start; i < limit && end < 0; i++) {
    if (buf[i] === LT && buf[i + 1] === LT) {
      depth++;
      i++;
    } else if (buf[i] === GT && buf[i + 1] === GT) {
      depth--;
      i++;
      if (depth === 0) end = i + 1;
    }
  }
  budget.left -= i - start;
  return end < 0 ? null : { start, end };
}

/** The value of `/Count` as a direct integer of the dictionary itself (not of a nested one). */
function directCount(buf: Buffer, dict: Dict): number | null {
  let depth = 0;
  for (let i = dict.start; i < dict.end; i++) {
    const c = buf[i];
    if (c === LT && buf[i + 1] === LT) {
      depth++;
      i++;
    } else if (c === GT && buf[i + 1] === GT) {
      depth--;
      i++;
    } else if (
      depth === 1 &&
      c === 0x2f &&
      buf.toString('latin1', i, i + 6) === '/Count' &&
      endsName(buf[i + 6])
    ) {
      let j = i + 6;
      while (isSpace(buf[j])) j++;
      // Nine digits at most: a count beyond is no document's.
      const digits = /^\d{1,9}/.exec(buf.toString('latin1', j, j + 9));
      return digits === null ? null : Number(digits[0]);
    }
  }
  return null;
}

/** The raw bytes of a FlateDecode stream whose dictionary is `dict`, or null. */
function streamData(buf: Buffer, dict: Dict): Buffer | null {
  const header = buf.toString('latin1', dict.start, dict.end);
  if (!/\/FlateDecode(?![^\s()<>[\]{}/%])/.test(header)) return null;
  let i = dict.end;
  while (isSpace(buf[i])) i++;
  if (buf.toString('latin1', i, i + 6) !== 'stream') return null;
  i += 6;
  if (buf[i] === 0x0d) i++;
  if (buf[i] === 0x0a) i++;
  // A direct /Length; an indirect one (`/Length 12 0 R`) is not looked up: up to `endstream`.
  const length = /\/Length\s+(\d+)(\s+\d+\s+R)?/.exec(header);
  if (length?.[1] !== undefined && length[2] === undefined)
    return buf.subarray(i, Math.min(buf.length, i + Number(length[1])));
  const end = buf.indexOf('endstream', i);
  return buf.subarray(i, end < 0 ? buf.length : end);
}
