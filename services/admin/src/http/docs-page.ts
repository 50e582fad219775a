import { createHash } from 'node:crypto';
import { ERROR_STATUS } from '../errors.js';
import { ACTIONS, PERMISSIONS, ROLES } from '../rbac/permissions.js';

/*
 * The browsable reference at /admin/v1/docs: one self-contained page (no CDN, no external
 * script) that fetches openapi.json and renders operations, parameters and schemas. Its
 * inline script and style are allowed by hash in a strict Content-Security-Policy.
 */

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2230;background:#fafbfc}
header{background:#1d2230;color:#fff;padding:16px 32px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 32px}
h2{border-bottom:1px solid #d6dae3;padding-bottom:4px;margin-top:32px;text-transform:capitalize}
details{background:#fff;border:1px solid #d6dae3;border-radius:6px;margin:8px 0}
summary{cursor:pointer;padding:8px 12px;font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:64px;font-weight:700;text-transform:uppercase}
.get{color:#0b6e4f}.post{color:#1f5fbf}.put,.patch{color:#9a6700}.delete{color:#b42318}
.body{padding:0 16px 12px}pre{background:#f3f5f9;padding:8px;overflow:auto;font-size:12px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d6dae3;padding:4px 8px;text-align:left;font-size:13px}
`;

const SCRIPT = `
(async function () {
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children) node.append(child);
    return node;
  };
  const root = document.getElementById('ops');
  let doc;
  try {
    doc = await (await fetch('openapi.json')).json();
  } catch (error) {
    root.textContent = 'Could not load openapi.json: ' + error;
    return;
  }
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('intro').textContent = doc.info.description;
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags || ['other'])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  const json = (value) => el('pre', {}, JSON.stringify(value, null, 2));
  for (const [tag, ops] of byTag) {
    root.append(el('h2', { id: 'tag-' + tag }, tag));
    for (const { path, method, op } of ops) {
      const body = el('div', { class: 'body' });
      body.append(el('p', {}, op.description || ''));
      if (op.parameters) {
        const table = el('table', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'in'), el('th', {}, 'required'), el('th', {}, 'schema')));
        for (const p of op.parameters) table.append(el('tr', {}, el('td', {}, p.name), el('td', {}, p.in), el('td', {}, String(!!p.required)), el('td', {}, JSON.stringify(p.schema))));
        body.append(el('h4', {}, 'Parameters'), table);
      }
      if (op.requestBody) body.append(el('h4', {}, 'Body'), json(op.requestBody.content['application/json'].schema));
      for (const [status, response] of Object.entries(op.responses)) {
        const content = response.content || {};
        const type = Object.keys(content)[0];
        body.append(el('h4', {}, status + ' ' + response.description + (type ? ' (' + type + ')' : '')));
        if (type && status.startsWith('2')) body.append(json(content[type].schema));
      }
      root.append(el('details', { id: op.operationId }, el('summary', {}, el('span', { class: 'm ' + method }, method), ' ' + path + ' \\u2014 ' + op.summary), body));
    }
  }
  root.append(el('h2', { id: 'schemas' }, 'schemas'));
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    root.append(el('details', { id: 'schema-' + name }, el('summary', {}, name), el('div', { class: 'body' }, json(schema))));
  }
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
})();
`;

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function permissionTable(): string {
  const head = `<tr><th>action</th>${ROLES.map((r) => `<th>${r}</th>`).join('')}</tr>`;
  const rows = ACTIONS.map(
    (action) =>
      `<tr><td><code>${action}</code></td>${ROLES.map((role) => `<td>${PERMISSIONS[role].includes(action) ? '✔' : ''}</td>`).join('')}</tr>`,
  ).join('');
  return `<table>${head}${rows}</table><p><code>org.create</code> belongs to the bootstrap owner only (KORDON_ADMIN_TOKEN).</p>`;
}

function problemList(): string {
  return Object.entries(ERROR_STATUS)
    .map(
      ([code, { status, title }]) =>
        `<li id="problem-${code}"><code>${code}</code> (${status}): ${escapeHtml(title)}</li>`,
    )
    .join('');
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export function docsPage(): { html: string; csp: string } {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kordon admin API</title><style>${STYLE}</style></head>
<body><header><h1 id="title">Kordon admin API</h1></header>
<main><p id="intro"></p><p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
<h2 id="permissions">permissions</h2>${permissionTable()}
<h2 id="problems">problem types</h2><ul>${problemList()}</ul>
<div id="ops">Loading…</div></main>
<script>${SCRIPT}</script></body></html>`;
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return { html, csp };
}
