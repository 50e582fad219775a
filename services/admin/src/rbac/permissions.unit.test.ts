import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { newPassport } from '../http/passport.js';
import { adminRoutes } from '../http/routes/index.js';
import { ACTIONS, PERMISSIONS, ROLES } from './permissions.js';

it('docs/admin-api.md shows exactly the permission table the code enforces', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../../docs/admin-api.md', import.meta.url)), 'utf8');
  const documented = new Map<string, string[]>();
  for (const line of doc.split('\n')) {
    const match = /^\| `([a-zA-Z.]+)`[^|]*\|(.*)\|$/.exec(line);
    if (!match || !ACTIONS.includes(match[1] as never) || match[1] === 'org.create') continue;
    const cells = match[2]!.split('|').map((cell) => cell.trim());
    documented.set(
      match[1]!,
      ROLES.filter((_, i) => cells[i] === '✔'),
    );
  }
  for (const action of ACTIONS.filter((a) => a !== 'org.create')) {
    assert.deepEqual(
      documented.get(action),
      ROLES.filter((role) => PERMISSIONS[role].includes(action)),
      action,
    );
  }
});

it('every route names an action of the table (or is public / any signed-in caller)', () => {
  for (const route of adminRoutes(newPassport())) {
    assert.ok(
      route.access === 'public' || route.access === 'signed-in' || ACTIONS.includes(route.access),
      route.operationId,
    );
  }
});
