import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUpstreamError } from './upstream-error.js';
import { parseBaseUrl, pathSegment, upstreamTarget } from './upstream-target.js';

const refused = (error: unknown) => isUpstreamError(error, 'upstream_target_refused') && !error.isRetryable;

describe('configured base URLs', () => {
  it('splits origin and base path', () => {
    assert.deepEqual(parseBaseUrl('https://api.openai.com/v1/'), {
      origin: 'https://api.openai.com',
      basePath: '/v1',
    });
    assert.deepEqual(parseBaseUrl('http://127.0.0.1:8080'), {
      origin: 'http://127.0.0.1:8080',
      basePath: '',
    });
  });

  it('refuses what would ride along on every call or go elsewhere', () => {
    for (const url of [
      'ftp://files.example.test',
      'https://user:pass@api.example.test/v1',
      'https://api.example.test/v1?key=secret',
      'https://api.example.test/v1#x',
      'not a url',
      'file:///etc/passwd',
    ]) {
      assert.throws(() => parseBaseUrl(url), refused, url);
    }
  });
});

describe('path segments from request data', () => {
  it('accepts model and deployment names as providers spell them', () => {
    for (const value of [
      'gpt-4o',
      'gpt-4o-mini-2024-07-18',
      'claude-sonnet-4-5@20250929',
      'gemini-2.5-flash',
      'my_deploy.v2',
    ]) {
      assert.equal(pathSegment(value, 'model'), value);
    }
  });

  it('refuses anything that could leave its segment or name a host', () => {
    for (const value of [
      '',
      '..',
      '../admin',
      'a/../b',
      'gpt-4o/../../x',
      'a/b',
      'a\\b',
      'http://evil.test/x',
      '//evil.test',
      'evil.test:443',
      '%2e%2e',
      'a%2fb',
      'a b',
      'a?b=1',
      'a#b',
      'line\nbreak',
      '.hidden',
      'x'.repeat(201),
    ]) {
      assert.throws(() => pathSegment(value, 'model'), refused, JSON.stringify(value));
    }
  });
});

describe('targets', () => {
  const base = parseBaseUrl('https://example.test/api');

  it('joins base path, path and an encoded query', () => {
    const target = upstreamTarget(base, '/openai/deployments/gpt/chat/completions', {
      'api-version': '2024-10-21',
      alt: undefined,
      odd: 'a b&c',
    });
    assert.equal(target.origin, 'https://example.test');
    assert.equal(
      target.path,
      '/api/openai/deployments/gpt/chat/completions?api-version=2024-10-21&odd=a%20b%26c',
    );
  });

  it('rechecks the joined path', () => {
    for (const path of ['/v1/../admin', '/v1/%2e%2e/admin', '/v1/a%2Fb', '/v1/a b', '/v1?x=1', '/v1\\x']) {
      assert.throws(() => upstreamTarget(base, path), refused, path);
    }
    assert.throws(() => upstreamTarget(parseBaseUrl('https://example.test'), '//evil.test/x'), refused);
  });
});
