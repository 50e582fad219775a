import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ibanValid, innValid, luhnValid, snilsValid } from './checksums.js';

describe('checksums', () => {
  test('Luhn: test card numbers pass, one changed digit fails', () => {
    for (const card of ['4111111111111111', '5555555555554444', '378282246310005', '2200000000000004']) {
      assert.ok(luhnValid(card), card);
    }
    for (const bad of ['4111111111111112', '5555555555554445', '1234567812345678', '', '41111x1111111111']) {
      assert.ok(!luhnValid(bad), bad);
    }
  });

  test('IBAN: mod 97 equals 1', () => {
    for (const iban of [
      'DE89370400440532013000',
      'GB82WEST12345698765432',
      'NL91ABNA0417164300',
      'CH9300762011623852957',
    ]) {
      assert.ok(ibanValid(iban), iban);
    }
    for (const bad of [
      'DE89370400440532013001',
      'GB82WEST12345698765433',
      'DE8937040044',
      'de89370400440532013000',
    ]) {
      assert.ok(!ibanValid(bad), bad);
    }
  });

  test('INN: 10 and 12 digits with their check digits', () => {
    assert.ok(innValid('7707083893'));
    assert.ok(innValid('500100732259'));
    for (const bad of [
      '7707083894',
      '500100732258',
      '500100732269',
      '1234567890',
      '0007083893',
      '77070838',
      '770708389a',
    ]) {
      assert.ok(!innValid(bad), bad);
    }
  });

  test('SNILS: weighted sum modulo 101, defined above 001-001-998', () => {
    assert.ok(snilsValid('11223344595'));
    assert.ok(snilsValid('08765430300'));
    for (const bad of ['11223344596', '11223344594', '00100199800', '1122334459']) {
      assert.ok(!snilsValid(bad), bad);
    }
  });
});
