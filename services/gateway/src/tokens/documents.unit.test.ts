/**
 * A PDF is billed by its pages: Gemini 2.x 258 a page, Gemini 3 560 (its default media
 * resolution for PDFs), Claude ~1,500-3,000 a page (Anthropic's PDF support guide: each page is
 * an image plus its text), GPT the page's text plus an image of each page. Every PDF was
 * estimated at a flat 3,000 tokens, so a 100-page PDF passed budgets and tpm limits as ~3k.
 * A PDF declares its page count in its page tree (`/Type /Pages ... /Count N`), also inside a
 * compressed object stream.
 */
import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { describe, it } from 'node:test';
import { deflateSync, type ZlibOptions } from 'node:zlib';
import { DOCUMENT_TOKENS } from './count.js';
import { PDF_PAGE_TEXT_TOKENS, pdfPageTokens } from './documents.js';
import { type EstimateDialect, estimateRequestTokens } from './estimate.js';
import {
  BYTES_PER_PAGE,
  MAX_INFLATED_BYTES,
  MAX_SIZE_PAGES,
  pdfPageCount,
  pdfPages,
  pdfReadBudget,
} from './pdf-pages.js';

/** A minimal uncompressed PDF with `pages` pages. */
function pdf(pages: number): Buffer {
  const kids = Array.from({ length: pages }, (_, i) => `${i + 3} 0 R`).join(' ');
  const objects = [
    '1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj',
    `2 0 obj <</Type /Pages /Kids [${kids}] /Count ${pages}>> endobj`,
    ...Array.from(
      { length: pages },
      (_, i) => `${i + 3} 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]>> endobj`,
    ),
  ];
  return Buffer.from(`%PDF-1.4\n${objects.join('\n')}\ntrailer <</Root 1 0 R>>\n%%EOF\n`);
}

/** A PDF 1.5 whose page tree is only inside a FlateDecode object stream, as pdfTeX writes it. */
function pdfWithObjectStream(pages: number, length: 'direct' | 'indirect' = 'direct'): Buffer {
  const objects =
    '1 0 2 40\n<< /Type /Catalog /Pages 2 0 R /Outlines << /Type /Outlines /Count 900 >> >>\n' +
    `<< /Type /Pages /Count ${pages} /Kids [3 0 R] >>\n`;
  const data = deflateSync(Buffer.from(objects, 'latin1'));
  const lengthEntry = length === 'direct' ? `/Length ${data.length}` : '/Length 6 0 R';
  return Buffer.concat([
    Buffer.from(
      `%PDF-1.5\n%\xe2\xe3\xcf\xd3\n5 0 obj\n<< /Type /ObjStm /N 2 /First 9 ${lengthEntry} /Filter /FlateDecode >>\nstream\n`,
      'latin1',
    ),
    data,
    Buffer.from(`\nendstream\nendobj\n6 0 obj ${data.length} endobj\n%%EOF\n`, 'latin1'),
  ]);
}

function body(dialect: EstimateDialect, model: string, data: string): unknown {
  switch (dialect) {
    case 'openai-chat':
      return {
        model,
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'file', file: { filename: 'r.pdf', file_data: `data:application/pdf;base64,${data}` } },
            ],
          },
        ],
      };
    case 'openai-responses':
      return {
        model,
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_file', filename: 'r.pdf', file_data: `data:application/pdf;base64,${data}` },
            ],
          },
        ],
      };
    default:
      return {
        model,
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } }],
          },
        ],
      };
  }
}

function inputTokens(dialect: EstimateDialect, model: string, data: string): number {
  const result = estimateRequestTokens({ dialect, body: body(dialect, model, data) });
  assert.ok(result.ok);
  assert.ok(result.estimate.approximations.includes('documents'));
  assert.equal(result.estimate.exact, false);
  return result.estimate.inputTokens;
}

describe('PDF token estimates', () => {
  for (const [dialect, model, perPage] of [
    ['openai-chat', 'gemini-2.5-flash', 258],
    ['anthropic-messages', 'gemini-3-flash-preview', 560],
    ['anthropic-messages', 'claude-sonnet-4-5', 1500],
    ['openai-chat', 'claude-sonnet-4-5', 1500],
    ['openai-chat', 'gpt-4o', 765 + PDF_PAGE_TEXT_TOKENS],
    ['openai-responses', 'gpt-4.1', 765 + PDF_PAGE_TEXT_TOKENS],
  ] as const) {
    it(`${model} (${dialect}): a 100-page PDF is estimated by its pages (>= ${perPage} a page), not a flat 3,000 tokens`, () => {
      const tokens = inputTokens(dialect, model, pdf(100).toString('base64'));
      assert.ok(
        tokens >= 100 * perPage,
        `estimated ${tokens} input tokens for 100 pages; ${model} bills >= ${100 * perPage}`,
      );
    });
  }

  it("a page's rate is the vendor's: Gemini 258 / 560, Claude image ceiling + text, GPT page image + text", () => {
    assert.equal(pdfPageTokens('gemini', 'gemini-2.5-pro'), 258);
    assert.equal(pdfPageTokens('gemini', 'gemini-3-pro-preview'), 560);
    assert.equal(pdfPageTokens('gemini', 'gemini-flash-latest'), 560);
    assert.equal(pdfPageTokens('other', 'claude-sonnet-4-5'), 1600 + PDF_PAGE_TEXT_TOKENS);
    // Within the PDF guide's "typically 1,500-3,000 tokens per page".
    assert.ok(pdfPageTokens('other', 'claude-sonnet-4-5') <= 3000);
    assert.equal(pdfPageTokens('other', 'claude-opus-4-7'), 4784 + PDF_PAGE_TEXT_TOKENS);
    assert.equal(pdfPageTokens('openai', 'gpt-4o'), 85 + 4 * 170 + PDF_PAGE_TEXT_TOKENS);
  });

  it('a PDF whose data URL says `BASE64` in upper case (a data URL still) is paged too', () => {
    const result = estimateRequestTokens({
      dialect: 'openai-chat',
      body: {
        model: 'gemini-2.5-flash',
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'file',
                file: { file_data: `data:application/pdf;BASE64,${pdf(100).toString('base64')}` },
              },
            ],
          },
        ],
      },
    });
    assert.ok(result.ok);
    assert.ok(result.estimate.inputTokens >= 100 * 258, `estimated ${result.estimate.inputTokens}`);
  });

  it('a PDF inside a tool result is paged too', () => {
    const result = estimateRequestTokens({
      dialect: 'anthropic-messages',
      body: {
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 't1',
                content: [
                  {
                    type: 'document',
                    source: {
                      type: 'base64',
                      media_type: 'application/pdf',
                      data: pdf(10).toString('base64'),
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    assert.ok(result.ok);
    assert.ok(result.estimate.inputTokens >= 10 * 1500);
  });

  it('a document by URL or file id, or a file that is not a PDF, keeps the fallback estimate', () => {
    const byUrl = estimateRequestTokens({
      dialect: 'anthropic-messages',
      body: {
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [
          {
            role: 'user',
            content: [{ type: 'document', source: { type: 'url', url: 'https://example.test/r.pdf' } }],
          },
        ],
      },
    });
    const empty = estimateRequestTokens({
      dialect: 'anthropic-messages',
      body: { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: [] }] },
    });
    assert.ok(byUrl.ok && empty.ok);
    assert.equal(byUrl.estimate.inputTokens - empty.estimate.inputTokens, DOCUMENT_TOKENS);
    const text = Buffer.from('just some text').toString('base64');
    const textFile = estimateRequestTokens({
      dialect: 'openai-responses',
      body: {
        model: 'gpt-4o',
        input: [
          {
            role: 'user',
            content: [
              {
                type: 'input_file',
                file_data: `data:application/vnd.openxmlformats-officedocument.wordprocessingml.document;base64,${text}`,
              },
            ],
          },
        ],
      },
    });
    assert.ok(textFile.ok);
    assert.ok(textFile.estimate.inputTokens < DOCUMENT_TOKENS + 20);
  });

  /*
   * A text file given inline (a Responses `input_file` of text/plain, Markdown, JSON or code: "the
   * API extracts text only", OpenAI's file-inputs guide; Gemini reads a text/plain inlineData as
   * text) costs its text. It was a flat 3,000 tokens, so a 60k-token file passed limits as 3k.
   */
  it('an inline text file is counted as its decoded text, not a flat 3,000 tokens', () => {
    const text = 'The supplier shall deliver the goods within thirty days of the purchase order. '.repeat(
      4000,
    );
    const plain = estimateRequestTokens({
      dialect: 'openai-responses',
      body: { model: 'gpt-4o', input: [{ role: 'user', content: [{ type: 'input_text', text }] }] },
    });
    assert.ok(plain.ok);
    for (const mediaType of ['text/plain', 'text/markdown', 'application/json', 'text/x-python']) {
      const file = estimateRequestTokens({
        dialect: 'openai-responses',
        body: {
          model: 'gpt-4o',
          input: [
            {
              role: 'user',
              content: [
                {
                  type: 'input_file',
                  filename: 'contract.txt',
                  file_data: `data:${mediaType};base64,${Buffer.from(text).toString('base64')}`,
                },
              ],
            },
          ],
        },
      });
      assert.ok(file.ok);
      const off = Math.abs(file.estimate.inputTokens - plain.estimate.inputTokens);
      assert.ok(
        off < 100,
        `${mediaType}: ${file.estimate.inputTokens} tokens for ${plain.estimate.inputTokens} of text`,
      );
    }
  });

  /*
   * A document with a `content` source (Anthropic's custom content documents: a string or text
   * and image blocks, platform.claude.com/docs/en/build-with-claude/citations) is those blocks:
   * it was a flat 3,000 tokens whatever it held, so a 100k-token manual passed limits as 3k.
   * A document's `title` and `context` are text the model reads too.
   */
  it('a custom content document is its text and images, and any document its title and context', () => {
    const clause = 'The supplier shall deliver the goods within thirty days of the purchase order. ';
    const manual = clause.repeat(4000); // ~60k tokens
    const body = (document: Record<string, unknown>) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: [document] }],
    });
    const tokens = (document: Record<string, unknown>) => {
      const result = estimateRequestTokens({ dialect: 'anthropic-messages', body: body(document) });
      assert.ok(result.ok);
      return result.estimate.inputTokens;
    };
    const asText = tokens({ type: 'text', text: manual });
    for (const content of [manual, [{ type: 'text', text: manual }]]) {
      const counted = tokens({ type: 'document', source: { type: 'content', content } });
      assert.ok(
        Math.abs(counted - asText) < 50,
        `${counted} tokens for a document of ${asText} tokens of text`,
      );
    }
    const withImage = tokens({
      type: 'document',
      source: {
        type: 'content',
        content: [
          { type: 'text', text: 'Figure 1' },
          { type: 'image', source: { type: 'url', url: 'https://example.test/figure.png' } },
        ],
      },
    });
    assert.ok(withImage >= 1600, 'an image of unknown size inside it counts at the model ceiling');
    const plain = { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Hello.' } };
    const context = manual.slice(0, 8000);
    assert.ok(tokens({ ...plain, title: 'Supply agreement', context }) - tokens(plain) > 1000);
  });
});

describe('reading the page count of a PDF', () => {
  it("the page tree root's /Count, the largest of the /Pages dictionaries", () => {
    assert.equal(pdfPageCount(pdf(1)), 1);
    assert.equal(pdfPageCount(pdf(250)), 250);
    const tree = Buffer.from(
      '%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R/Outlines<</Type/Outlines/Count 400>>>>endobj\n' +
        '3 0 obj<</Type/Pages/Parent 2 0 R/Count 6/Kids[5 0 R]>>endobj\n' +
        // keys in any order, /Kids before /Type, a nested dictionary with its own /Count
        '2 0 obj<</Count 12/Kids[3 0 R 4 0 R]/Resources<</Count 99>>/Type/Pages>>endobj\n' +
        '4 0 obj<</Type /Pages\n/Count 6 /Parent 2 0 R /Kids [6 0 R]>>endobj\n%%EOF',
      'latin1',
    );
    assert.equal(pdfPageCount(tree), 12);
  });

  it('a page tree inside a compressed object stream (PDF 1.5), whatever its /Length', () => {
    assert.equal(pdfPageCount(pdfWithObjectStream(37)), 37);
    assert.equal(pdfPageCount(pdfWithObjectStream(37, 'indirect')), 37);
  });

  it('no readable page tree: by its size, at least one page and at most MAX_SIZE_PAGES', () => {
    const opaque = (bytes: number) =>
      Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(bytes, 0xa7), Buffer.from('\n%%EOF')]);
    assert.deepEqual(pdfPages(opaque(10)), { pages: 1, counted: false });
    assert.deepEqual(pdfPages(opaque(10 * BYTES_PER_PAGE)), { pages: 11, counted: false });
    assert.deepEqual(pdfPages(opaque(1000 * BYTES_PER_PAGE)), { pages: MAX_SIZE_PAGES, counted: false });
    // A stream that does not inflate (encrypted) is not read.
    const encrypted = Buffer.from(
      '%PDF-1.5\n5 0 obj<</Type/ObjStm/N 1/First 4/Length 8/Filter/FlateDecode>>stream\n\x01\x02\x03\x04\x05\x06\x07\x08\nendstream endobj',
      'latin1',
    );
    assert.deepEqual(pdfPages(encrypted), { pages: 1, counted: false });
  });

  it('bytes that are not a PDF are not paged', () => {
    assert.equal(pdfPages(Buffer.from('PK\x03\x04 a docx')), null);
  });

  it('a crafted PDF of dictionary-less /Type /Pages is given up on within the scan budget', () => {
    const crafted = Buffer.from(`%PDF-1.4\n${'/Type /Pages '.repeat(200_000)}`);
    const started = performance.now();
    assert.equal(pdfPageCount(crafted), null);
    assert.ok(performance.now() - started < 2000);
  });
});

describe('the PDFs of one request are read within one budget', () => {
  it('inflates at most MAX_INFLATED_BYTES of object streams for a whole prompt, not for each PDF', () => {
    // 8 MiB of spaces deflate to ~8 KiB: one request of 10 MiB held ~900 such PDFs, and each
    // inflated its own 8 MiB (~8 ms each, seconds on the event loop for one count).
    const objects = Buffer.concat([
      Buffer.alloc(MAX_INFLATED_BYTES - 64, 0x20),
      Buffer.from('<< /Type /Pages /Count 7 /Kids [3 0 R] >>\n', 'latin1'),
    ]);
    const data = deflateSync(objects, { level: 9 });
    const bomb = Buffer.concat([
      Buffer.from(
        `%PDF-1.5\n5 0 obj\n<< /Type /ObjStm /N 1 /First 0 /Length ${data.length} /Filter /FlateDecode >>\nstream\n`,
        'latin1',
      ),
      data,
      Buffer.from('\nendstream\nendobj\n%%EOF\n', 'latin1'),
    ]).toString('base64');
    const zlib = createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
    const inflate = zlib.inflateSync;
    let inflated = 0;
    zlib.inflateSync = ((buffer: Buffer, options?: ZlibOptions) => {
      const out = inflate(buffer, options);
      inflated += out.length;
      return out;
    }) as typeof zlib.inflateSync;
    syncBuiltinESMExports();
    try {
      const file = { type: 'file', file: { file_data: `data:application/pdf;base64,${bomb}` } };
      const estimate = estimateRequestTokens({
        dialect: 'openai-chat',
        body: { model: 'gpt-4o', messages: [{ role: 'user', content: Array(12).fill(file) }] },
      });
      assert.ok(estimate.ok);
      assert.ok(inflated <= MAX_INFLATED_BYTES, `inflated ${inflated} bytes for one count`);
    } finally {
      zlib.inflateSync = inflate;
      syncBuiltinESMExports();
    }
  });

  it('takes a stream that inflates past the budget (and throws) as the budget spent', () => {
    // Each throws at the budget having inflated it: 256 of them in one PDF were 2 GiB of work.
    const data = deflateSync(Buffer.alloc(MAX_INFLATED_BYTES + 1024, 0x20), { level: 9 });
    const stream = Buffer.concat([
      Buffer.from(
        `<< /Type /ObjStm /N 1 /First 0 /Length ${data.length} /Filter /FlateDecode >>\nstream\n`,
        'latin1',
      ),
      data,
      Buffer.from('\nendstream\n', 'latin1'),
    ]);
    const bombs = Buffer.concat([Buffer.from('%PDF-1.5\n', 'latin1'), ...Array(6).fill(stream)]);
    const started = performance.now();
    const budget = pdfReadBudget();
    assert.equal(pdfPageCount(bombs, budget), null);
    assert.equal(budget.inflate, 0);
    // One inflation of the budget (~8 ms here), not six.
    assert.ok(performance.now() - started < 1000);
  });
});
