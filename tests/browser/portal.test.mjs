// Browser tests of the provider portal, in a real Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core; accessibility scans with
// axe-core (no serious or critical violation allowed). The real release
// binary (IMMUNIS_BIN) runs with a fresh data directory; users are created
// with the CLI and TOTP codes computed here (RFC 6238). Screenshots and the
// printed record go to IMMUNIS_ARTIFACTS (default target/browser-artifacts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.IMMUNIS_BIN || path.join(ROOT, 'target', 'release', 'immunis');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.IMMUNIS_ARTIFACTS || path.join(ROOT, 'target', 'browser-artifacts');
const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let server, dataDir, base, browser, nurse, admin, outbox;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0; const out = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`bad base32 ${c}`);
    value = (value << 5) | i; bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) at a given step.
function totp(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = h[h.length - 1] & 0xf;
  const n = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

// The registry refuses a replayed code (a step at or before the last used):
// each login of the same user must use a later step, so wait for one.
const lastStep = new Map();
async function freshCode(user) {
  for (;;) {
    const step = Math.floor(Date.now() / 1000 / 30);
    if (step > (lastStep.get(user.username) ?? -1)) {
      lastStep.set(user.username, step);
      return totp(user.totp, step);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function cli(args, env = {}) {
  return execFileSync(BIN, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
}

function secretsFrom(out) {
  const totpSecret = /TOTP secret \(shown once\): (\S+)/.exec(out)?.[1];
  const password = /one-time password \(shown once\): (\S+)/.exec(out)?.[1];
  assert.ok(totpSecret, `no TOTP secret in: ${out}`);
  return { totp: totpSecret, password };
}

async function waitHealthy(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { const r = await fetch(url); if (r.ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server not healthy at ${url}`);
}

function isoDaysAgo(days) {
  const d = new Date(Date.now() - days * 86400_000);
  return d.toISOString().slice(0, 10);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// axe-core over the current page: no serious or critical violation.
async function accessible(page, name) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
  });
  fs.writeFileSync(path.join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(result.violations, null, 2));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [],
    `accessibility violations on ${name}`);
}

async function login(page, user) {
  await page.goto(`${base}/portal/login`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByLabel('Code from your authenticator app').fill(await freshCode(user));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/portal\/search/);
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  assert.ok(fs.existsSync(BIN), `immunis binary not found at ${BIN} (set IMMUNIS_BIN)`);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'immunis-browser-'));
  const [http, mllp] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${http}`;
  outbox = path.join(dataDir, 'outbox');
  server = spawn(BIN, ['serve', '--demo', '--data-dir', path.join(dataDir, 'data'),
    '--http', `127.0.0.1:${http}`, '--mllp', `127.0.0.1:${mllp}`, '--code-outbox', outbox],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log += d; });
  server.on('exit', (code) => { if (code) console.error(`server exited ${code}:\n${log}`); });
  await waitHealthy(`${base}/health`, 180_000);
  const data = ['--data-dir', path.join(dataDir, 'data')];
  nurse = { username: 'nurse', password: 'plum-ferry-42-orbit' };
  Object.assign(nurse, { totp: secretsFrom(cli(['user', 'add', ...data, '--username', 'nurse',
    '--organization', 'Demo Pediatrics', '--password-env', 'NURSE_PW'], { NURSE_PW: nurse.password })).totp });
  const a = secretsFrom(cli(['admin', 'bootstrap', ...data, '--username', 'registrar']));
  admin = { username: 'registrar', password: a.password, totp: a.totp };
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function tabletPage() {
  // A 10-inch tablet in landscape; CSP bypassed only so axe-core can be injected.
  const ctx = await browser.newContext({ viewport: { width: 1024, height: 768 }, bypassCSP: true });
  return ctx.newPage();
}

test('wrong code is refused with a clear message', async () => {
  const page = await tabletPage();
  await page.goto(`${base}/portal/login`);
  await accessible(page, 'login');
  await shot(page, '01-login');
  await page.getByLabel('Username').fill('nurse');
  await page.getByLabel('Password').fill(nurse.password);
  await page.getByLabel('Code from your authenticator app').fill('000000');
  await page.getByRole('button', { name: 'Log in' }).click();
  await assert.doesNotReject(page.getByText('Login failed').waitFor());
  assert.match(page.url(), /\/portal\/login/);
  await page.context().close();
});

test('nurse: register, search with a typo, chart, record a dose, forecast changes, print', async () => {
  const page = await tabletPage();
  await login(page, nurse);
  await accessible(page, 'search-empty');

  // Register a two-month-old (duplicate check first).
  const born = isoDaysAgo(65);
  await page.getByRole('link', { name: 'New patient', exact: true }).click();
  await page.getByLabel('Last name (required)').fill('Quintanilla');
  await page.getByLabel('First name', { exact: true }).fill('Rosalind');
  await page.getByLabel('Birth date (required)').fill(born);
  await page.getByLabel('Sex').selectOption('F');
  await page.getByLabel('Medical record number (your clinic)').fill('MRN-77231');
  await page.getByRole('button', { name: 'Check for duplicates' }).click();
  await page.getByText('No similar record was found').waitFor();
  await accessible(page, 'new-patient-check');
  await page.getByRole('button', { name: 'Create the new record' }).click();
  await page.getByText('The patient was registered').waitFor();
  const chartUrl = page.url().replace(/\?.*$/, '');

  // Search with a misspelt surname and the birth date: the matcher finds her.
  await page.getByRole('link', { name: 'Find a patient' }).click();
  await page.getByLabel('Last name').fill('Quintanila');
  await page.getByLabel('First name').fill('Rosalind');
  await page.getByLabel('Birth date').fill(born);
  await page.getByRole('button', { name: 'Search' }).click();
  const hit = page.getByRole('link', { name: 'Quintanilla, Rosalind' });
  await hit.waitFor();
  await accessible(page, 'search-results');
  await shot(page, '02-search-results');
  await hit.click();
  await page.waitForURL(chartUrl);

  // The forecast: a two-month-old is due for DTaP now.
  const dtapRow = page.locator('#forecast tr', { has: page.locator('th', { hasText: /^DTaP\/Tdap\/Td$/ }) });
  await dtapRow.waitFor();
  const before = await dtapRow.innerText();
  assert.match(before, /Due now|Overdue/, `DTaP before: ${before}`);
  assert.match(await page.locator('#due-summary').innerText(), /DTaP/);
  await accessible(page, 'chart');
  await shot(page, '03-chart-before');

  // Record today's DTaP dose.
  await page.getByRole('link', { name: 'Record a vaccination' }).click();
  await page.getByLabel(/^Vaccine/).selectOption('20');
  await page.getByLabel(/^Lot number/).fill('DT4471A');
  await page.getByLabel('Manufacturer (MVX code)').fill('PMC');
  await accessible(page, 'dose-form');
  await shot(page, '04-dose-form');
  await page.getByRole('button', { name: 'Record' }).click();
  await page.getByText('The vaccination was recorded').waitFor();
  const after = await dtapRow.innerText();
  assert.doesNotMatch(after, /Due now|Overdue/, `DTaP after: ${after}`);
  assert.match(after, /Not yet due|Can be given now/);
  assert.match(await page.locator('table.history').first().innerText(), /DT4471A/);
  await shot(page, '05-chart-after');

  // A bad form gives a clear error, not a crash.
  await page.getByRole('link', { name: 'Record a vaccination' }).click();
  await page.getByLabel(/^Vaccine/).selectOption('20');
  await page.getByRole('button', { name: 'Record' }).click();
  await page.getByText(/Enter the lot number/).waitFor();
  await page.getByRole('link', { name: 'Cancel' }).click();

  // The printable record, with the print stylesheet.
  await page.getByRole('link', { name: 'Printable record' }).click();
  await page.getByRole('heading', { name: 'Official Immunization Record' }).waitFor();
  await accessible(page, 'print-view');
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.top').evaluate((e) => getComputedStyle(e).display), 'none');
  await shot(page, '06-print');
  await page.pdf({ path: path.join(ARTIFACTS, 'record.pdf'), format: 'Letter' });
  assert.ok(fs.statSync(path.join(ARTIFACTS, 'record.pdf')).size > 1000);
  await page.emulateMedia({ media: 'screen' });

  // Log out: the session ends.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByText('You are logged out').waitFor();
  await page.goto(chartUrl);
  await page.waitForURL(/\/portal\/login/);
  await page.context().close();
});

test('administrator pages are accessible', async () => {
  const page = await tabletPage();
  await login(page, admin);
  for (const [name, p] of [['admin-organizations', 'organizations'], ['admin-users', 'users'],
    ['admin-review', 'review'], ['admin-merge', 'merge'], ['admin-consent', 'consent']]) {
    await page.goto(`${base}/portal/admin/${p}`);
    await accessible(page, name);
    await shot(page, `07-${name}`);
  }
  await page.goto(`${base}/portal/admin/users`);
  await page.getByLabel('Username').fill('frontdesk');
  await page.getByLabel('Organization').selectOption('Demo Pediatrics');
  await page.getByRole('button', { name: 'Add the user' }).click();
  await page.getByText('User frontdesk created').waitFor();
  assert.match(await page.locator('dd.secret').first().innerText(), /\S{12,}/);
  await page.context().close();
});

test('a parent gets the record with a one-time code (My immunization record)', async () => {
  // A synthetic demo person with a phone on file, from the reminder/recall CSV.
  const csv = cli(['recall', '--data-dir', path.join(dataDir, 'data'), '--due-within-days', '36500']);
  const rows = csv.trim().split('\n').slice(1).map((l) => l.split(','));
  const people = new Map();
  for (const r of rows) {
    if (r[10] && !r.some((c) => c.includes('"'))) people.set(r[0], r);
  }
  const counts = new Map();
  for (const r of people.values()) {
    const k = `${r[1]}|${r[2]}|${r[3]}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const person = [...people.values()].find((r) => counts.get(`${r[1]}|${r[2]}|${r[3]}`) === 1);
  assert.ok(person, 'a demo person with a phone number');
  const [, family, given, birth, , , , , , , phone] = person;

  const page = await tabletPage();
  await page.goto(`${base}/my-record`);
  await accessible(page, 'consumer-request');
  await page.getByLabel('Given (first) name').fill(given);
  await page.getByLabel('Family (last) name').fill(family);
  await page.getByLabel('Date of birth').fill(birth);
  await page.getByLabel('Mobile phone number or e-mail address on file').fill(phone);
  const before = fs.existsSync(outbox) ? fs.readdirSync(outbox) : [];
  await page.getByRole('button', { name: 'Send me a code' }).click();
  await page.getByText('If the details match a record, we sent a one-time code').waitFor();
  await accessible(page, 'consumer-code');
  await shot(page, '08-consumer-code');
  let sent = [];
  for (let i = 0; i < 50 && sent.length === 0; i++) {
    sent = (fs.existsSync(outbox) ? fs.readdirSync(outbox) : []).filter((f) => !before.includes(f));
    if (!sent.length) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(sent.length, 1, 'one code sent');
  const code = /\b(\d{6})\b/.exec(JSON.parse(fs.readFileSync(path.join(outbox, sent[0]), 'utf8')).body)[1];
  await page.getByLabel('One-time code (6 digits)').fill(code);
  await page.getByRole('button', { name: 'Show my record' }).click();
  await page.getByRole('link', { name: 'Download the official record (PDF)' }).waitFor();
  await accessible(page, 'consumer-record');
  await shot(page, '09-consumer-record');
  const pdf = await page.request.get(`${base}/my-record/record.pdf`);
  assert.equal(pdf.status(), 200);
  assert.equal((await pdf.body()).subarray(0, 5).toString(), '%PDF-');
  const card = await page.request.get(`${base}/my-record/record.smart-health-card`);
  assert.equal(card.status(), 200);
  assert.ok(JSON.parse(await card.text()).verifiableCredential.length === 1);
  await page.getByRole('button', { name: 'Sign out' }).click();
  const after = await page.request.get(`${base}/my-record/record.pdf`);
  assert.notEqual(after.status(), 200, 'signed out: no more record');
  await page.context().close();
});

test('school nurse: roster status against the school-entry requirements, CSV export', async () => {
  const data = ['--data-dir', path.join(dataDir, 'data')];
  cli(['org', 'add', ...data, '--name', 'Demo Elementary', '--kind', 'school']);
  for (const [id, grade] of [['1', 'K'], ['2', 'K'], ['3', '7']]) {
    cli(['school', 'roster', 'add', ...data, '--org', 'Demo Elementary', '--patient', id, '--grade', grade]);
  }
  const school = { username: 'schoolnurse', password: 'lantern-quarry-58-meadow' };
  Object.assign(school, { totp: secretsFrom(cli(['user', 'add', ...data, '--username', school.username,
    '--organization', 'Demo Elementary', '--password-env', 'SCHOOL_PW'], { SCHOOL_PW: school.password })).totp });
  const page = await tabletPage();
  await login(page, school);
  await page.getByRole('link', { name: 'School report' }).click();
  await page.getByRole('heading', { name: 'School-entry immunization status' }).waitFor();
  assert.match(await page.locator('ul.summary').innerText(), /3 students/);
  await accessible(page, 'school-report');
  await shot(page, '10-school-report');
  await page.getByLabel('Grade').selectOption('K');
  await page.getByRole('button', { name: 'Show' }).click();
  assert.match(await page.locator('ul.summary').innerText(), /2 students/);
  const csv = await page.request.get(`${base}/portal/school/report.csv?grade=K`);
  assert.equal(csv.status(), 200);
  const lines = (await csv.text()).trim().split('\n');
  assert.match(lines[0], /^registry_id,name/);
  assert.equal(lines.length, 3, 'header + two kindergartners');
  fs.writeFileSync(path.join(ARTIFACTS, 'school-report.csv'), await csv.text());
  await page.context().close();
});
