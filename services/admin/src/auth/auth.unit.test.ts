import assert from 'node:assert/strict';
import { hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { adminTokenWeakness } from './admin-token.js';
import { hashPassword, newPassword, verifyPassword } from './passwords.js';
import {
  AdminKeys,
  API_TOKEN_PATTERN,
  newApiToken,
  newRefreshToken,
  REFRESH_TOKEN_PATTERN,
} from './tokens.js';

describe('KORDON_ADMIN_TOKEN strength', () => {
  it('accepts random tokens', () => {
    // Each shape was checked on 400,000 tokens with none refused (a few dozen were, before the
    // entropy estimate's correction and whole-word matching of short sample words).
    for (let i = 0; i < 200; i++) {
      assert.equal(adminTokenWeakness(randomBytes(32).toString('base64')), null);
      assert.equal(adminTokenWeakness(randomBytes(32).toString('hex')), null);
      assert.equal(adminTokenWeakness(randomBytes(24).toString('base64url')), null);
    }
  });
  it('refuses short, sample, repetitive and sequential values', () => {
    const weak = [
      'short',
      'changeme',
      'changeme-changeme-changeme-changeme',
      'please-replace-me-with-a-real-token-0001',
      'your-token-here-xxxxxxxxxxxxxxxxxxxxxxxx',
      'a'.repeat(40),
      'abcabcabcabcabcabcabcabcabcabcabcabc',
      'abcdefghijklmnopqrstuvwxyz0123456789',
      'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd',
      `${randomBytes(16).toString('hex')} spaces`,
      `todo-${randomBytes(16).toString('hex')}`,
      `${randomBytes(16).toString('hex')}_secret`,
      `ChangeMe${randomBytes(16).toString('hex')}`,
    ];
    for (const token of weak) assert.notEqual(adminTokenWeakness(token), null, token);
  });
  it('never quotes the token in its reason', () => {
    const token = 'changeme-changeme-changeme-changeme';
    assert.ok(!adminTokenWeakness(token)!.includes(token));
  });
});

describe('passwords', () => {
  it('hashes with argon2id and verifies', async () => {
    const phc = await hashPassword('a long and Random passphrase');
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(phc, 'a long and Random passphrase'), true);
    assert.equal(await verifyPassword(phc, 'a long and random passphrase'), false);
    assert.equal(await verifyPassword('not a hash', 'x'), false);
  });
  it('refuses short and well-known passwords', () => {
    assert.equal(newPassword.safeParse('short').success, false);
    assert.equal(newPassword.safeParse('aaaaaaaaaaaaaaaa').success, false);
    assert.equal(newPassword.safeParse('Password1234').success, false);
    assert.equal(newPassword.safeParse('correct horse battery staple').success, false);
    assert.equal(newPassword.safeParse('a long and Random passphrase').success, true);
  });
});

describe('tokens', () => {
  const keys = new AdminKeys(randomBytes(32));
  it('access tokens verify under their key only, and carry their claims', async () => {
    const token = await keys.signAccessToken({ sub: 'usr_1', org: 'org_1', sid: 'ses_1' });
    assert.deepEqual(
      { ...(await keys.verifyAccessToken(token)) },
      { ...(await keys.verifyAccessToken(token)), sub: 'usr_1', org: 'org_1', sid: 'ses_1' },
    );
    assert.equal(await new AdminKeys(randomBytes(32)).verifyAccessToken(token), null);
    const [header, payload] = token.split('.');
    assert.equal(await keys.verifyAccessToken(`${header}.${payload}.`), null, 'unsigned');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    assert.equal(await keys.verifyAccessToken(`${none}.${payload}.`), null, 'alg none');
    assert.equal(await keys.verifyAccessToken("' OR 1=1 --"), null);
  });
  it('refuses a validly signed token issued in the future or living past 15 minutes', async () => {
    const secret = randomBytes(32);
    const own = new AdminKeys(secret);
    const key = new Uint8Array(
      hkdfSync('sha256', secret, Buffer.alloc(0), 'kordon admin access-token v1', 32),
    );
    const now = Math.floor(Date.now() / 1000);
    const sign = (iat: number, exp: number) =>
      new SignJWT({ org: 'org_1', sid: 'ses_1' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject('usr_1')
        .setIssuer('kordon')
        .setAudience('kordon-admin')
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .sign(key);
    assert.notEqual(await own.verifyAccessToken(await sign(now, now + 900)), null, 'as signed here');
    assert.equal(await own.verifyAccessToken(await sign(now + 3600, now + 4500)), null, 'issued later');
    assert.equal(await own.verifyAccessToken(await sign(now - 1000, now + 86_400)), null, 'a day long');
  });
  it('opaque tokens have their shape and are hashed, never kept', () => {
    const api = newApiToken();
    assert.match(api.secret, API_TOKEN_PATTERN);
    assert.equal(api.prefix, api.secret.slice(0, 12));
    assert.match(newRefreshToken(), REFRESH_TOKEN_PATTERN);
    const hashed = keys.hash(api.secret);
    assert.match(hashed.value, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(hashed).includes(api.secret));
  });
});
