import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isKordonError } from '@kordon/events';
import { compileRules, type RedactionRule } from './custom-rules.js';
import { RedactionConfigError } from './errors.js';
import { createRedactor } from './redactor.js';
import { fakeToken } from './testing/corpus.js';

const hashKey = Buffer.from(fakeToken(32, 201));

const employeeId: RedactionRule = { id: 'employee_id', pattern: String.raw`\bEMP-\d{6}\b`, action: 'mask' };

function refusal(rules: readonly RedactionRule[]): RedactionConfigError {
  try {
    createRedactor({ hashKey, rules });
  } catch (error) {
    assert.ok(error instanceof RedactionConfigError, String(error));
    assert.ok(isKordonError(error, 'config_invalid'));
    return error;
  }
  assert.fail('the rules were accepted');
}

describe('custom rules', () => {
  test('a rule masks its matches, alongside the built-ins', () => {
    const r = createRedactor({ hashKey, rules: [employeeId] });
    assert.equal(
      r.redactString('EMP-123456 and EMP-654321 wrote to ivan@example.ru; EMP-1234567 is no id'),
      '[REDACTED:employee_id] and [REDACTED:employee_id] wrote to ' +
        `${r.redactString('ivan@example.ru')}; EMP-1234567 is no id`,
    );
    assert.deepEqual(r.findings('id EMP-123456'), [
      { rule: 'employee_id', kind: 'custom', action: 'mask', start: 3, end: 13 },
    ]);
  });

  test('hash, drop, a capture group, case-insensitive matching and keepLast', () => {
    const r = createRedactor({
      hashKey,
      rules: [
        { id: 'ticket', pattern: String.raw`ticket #(\d+)`, action: 'hash', group: 1, caseInsensitive: true },
        { id: 'codename', pattern: 'project (?:falcon|osprey)', action: 'drop' },
        { id: 'contract', pattern: 'CTR-[0-9A-Z]{16}', action: 'mask', keepLast: 4 },
      ],
    });
    const out = r.redactString('TICKET #4711 about project falcon, contract CTR-ABCDEFGH12345678');
    assert.match(
      out,
      /^TICKET #\[ticket:hmac:[0-9a-f]{12}\] about \[DROPPED\], contract \[REDACTED:contract …5678\]$/,
    );
    assert.deepEqual(r.redactValue({ a: 'project osprey', b: 'fine' }), { b: 'fine' });
  });

  test('matches of the empty string are skipped', () => {
    const r = createRedactor({ hashKey, rules: [{ id: 'maybe_x', pattern: 'x*', action: 'mask' }] });
    assert.equal(r.redactString('abxxc'), 'ab[REDACTED:maybe_x]c');
  });

  test('catastrophic backtracking pattern (a+)+$ runs in linear time on 100k characters', () => {
    const r = createRedactor({ hashKey, rules: [{ id: 'nested', pattern: '(a+)+$', action: 'mask' }] });
    const input = `${'a'.repeat(100_000)}b`;
    const started = performance.now();
    assert.equal(r.redactString(input), input);
    const tail = `${'a'.repeat(100_000)}`;
    assert.equal(r.redactString(`b${tail}`), 'b[REDACTED:nested]');
    console.log(`# (a+)+$ on 2 x 100k characters: ${(performance.now() - started).toFixed(1)} ms`);
  });

  test('patterns RE2 refuses are refused with a message naming the rule', () => {
    for (const pattern of [String.raw`(a)\1`, '(?=lookahead)', '(?<=behind)x', '[unclosed', 'a{2000}']) {
      const error = refusal([employeeId, { id: 'bad_rule', pattern, action: 'mask' }]);
      assert.equal(error.ruleId, 'bad_rule');
      assert.match(error.message, /^redaction rule "bad_rule": pattern refused by the RE2 engine/);
    }
  });

  test('malformed rules are refused, naming the rule', () => {
    assert.match(refusal([{ id: 'Bad Id', pattern: 'x', action: 'mask' }]).message, /rule "Bad Id": id:/);
    assert.match(
      refusal([{ id: 'x', pattern: 'x', action: 'erase' as 'mask' }]).message,
      /^redaction rule "x": action:/,
    );
    assert.match(
      refusal([{ id: 'email', pattern: 'x', action: 'mask' }]).message,
      /taken by a built-in detector/,
    );
    assert.match(refusal([employeeId, employeeId]).message, /"employee_id": the id is used twice/);
    assert.match(
      refusal([{ id: 'grp', pattern: 'a(b)', action: 'mask', group: 2 }]).message,
      /"grp": group 2 does not exist, the pattern has 1/,
    );
  });

  test('compiled rule sets are cached by content', () => {
    const a = compileRules([employeeId, { id: 'other', pattern: 'zzz', action: 'hash' }]);
    const b = compileRules([{ ...employeeId }, { id: 'other', pattern: 'zzz', action: 'hash' }]);
    const c = compileRules([employeeId, { id: 'other', pattern: 'zzz', action: 'drop' }]);
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.ok(Object.isFrozen(a));
  });
});
