import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fetchesUrls } from './anthropic-url-fetch.js';

const user = (content: unknown) => ({ messages: [{ role: 'user', content }] });

test('a Messages body fetches a URL by a url image or document source, in a tool result too', () => {
  const url = { type: 'url', url: 'https://example.com/a.pdf' };
  assert.ok(fetchesUrls(user([{ type: 'image', source: url }])));
  assert.ok(fetchesUrls(user([{ type: 'document', source: url }])));
  assert.ok(
    fetchesUrls(
      user([{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'image', source: url }] }]),
    ),
  );
});

test('a Messages body fetches a URL by the web_fetch tool or MCP servers', () => {
  assert.ok(fetchesUrls({ ...user('hi'), tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] }));
  assert.ok(fetchesUrls({ ...user('hi'), mcp_servers: [{ type: 'url', url: 'https://mcp.example.com' }] }));
});

test('inline data, files, plain text and other tools fetch nothing', () => {
  assert.equal(fetchesUrls(undefined), false);
  assert.equal(fetchesUrls(user('https://example.com/cat.png')), false);
  assert.equal(
    fetchesUrls(
      user([
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        { type: 'document', source: { type: 'file', file_id: 'file_1' } },
        { type: 'tool_result', tool_use_id: 't1', content: 'https://example.com' },
      ]),
    ),
    false,
  );
  assert.equal(
    fetchesUrls({
      ...user('hi'),
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      mcp_servers: [],
    }),
    false,
  );
});
