// End to end in Debian's Chromium against browser mode with the real engine and SmolLM2: open a
// PDF, ask, watch the answer stream, read the Statistics, follow up, stop, reload. One flow of
// dependent steps; a failed step fails the ones after it. Screenshots of each step go to
// test-results/e2e/. Ends with the line "N passed, N failed".
//   node --import tsx test/e2e/run.ts
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';

import { createAppCore } from '../../main/app/app-core.ts';
import { ensureRendererBuilt, RENDERER_BUILD, ROOT } from '../../main/app/build-ui.ts';
import { startWebServer, type WebServer } from '../../main/web/server.ts';

const CHROMIUM = process.env.SQUEEZE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'e2e');
const PDF = path.join(ROOT, 'test', 'fixtures', 'docs', 'report.pdf');
const ANSWER_TIMEOUT = 60_000;
// Short answers keep the run near a minute on two cores; Stop is tested on a longer one.
const MAX_TOKENS = 160;

type Step = [name: string, run: (page: Page) => Promise<void>];

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const assistant = (page: Page) => page.locator('[data-role="assistant"]:not([data-streaming])');
const streaming = (page: Page) => page.locator('[data-role="assistant"][data-streaming="true"] .text');

/** The value shown beside a label in the Statistics region. */
async function stat(page: Page, label: string): Promise<string> {
  return page.getByRole('region', { name: 'Statistics' }).locator(`dt:text-is("${label}") + dd`).innerText();
}

function firstNumber(text: string): number {
  const m = /[\d.]+/.exec(text);
  return m ? Number(m[0]) : NaN;
}

/** Sends a question and returns the distinct partial answers seen while it streamed. */
async function ask(page: Page, question: string, onPartial?: (text: string) => Promise<boolean>): Promise<string[]> {
  await page.getByRole('textbox', { name: 'Ask a question' }).fill(question);
  await page.getByRole('button', { name: 'Send' }).click();
  const partials: string[] = [];
  const deadline = Date.now() + ANSWER_TIMEOUT;
  while (Date.now() < deadline) {
    const live = streaming(page);
    if ((await live.count()) === 0) {
      if (partials.length > 0 || (await page.getByRole('button', { name: 'Stop' }).isDisabled())) break;
    } else {
      const text = await live.innerText().catch(() => '');
      if (text && text !== '…' && text !== partials.at(-1)) {
        partials.push(text);
        if (onPartial && (await onPartial(text))) onPartial = undefined;
      }
    }
    await page.waitForTimeout(50);
  }
  await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'attached' });
  await page.waitForFunction(() => !document.querySelector('[data-streaming="true"]'), undefined, { timeout: ANSWER_TIMEOUT });
  return partials;
}

const pageErrors: string[] = [];

const steps: Step[] = [
  [
    'the page loads with the model ready',
    async (page) => {
      await page.getByRole('status', { name: 'Model status' }).getByText(/ready/).waitFor({ timeout: 30_000 });
      await shot(page, '01-loaded');
    },
  ],
  [
    'a bad path shows an error the user can act on',
    async (page) => {
      await page.getByLabel('Document path').fill('/nowhere/missing.pdf');
      await page.getByRole('button', { name: 'Open PDF' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      check((await alert.innerText()).includes('/nowhere/missing.pdf'), `alert names the path: ${await alert.innerText()}`);
      await shot(page, '02-bad-path');
    },
  ],
  [
    'opening a PDF shows its pages',
    async (page) => {
      await page.getByLabel('Document path').fill(PDF);
      await page.getByRole('button', { name: 'Open PDF' }).click();
      const docs = page.getByLabel('Open documents');
      await docs.getByText(/report\.pdf: 1 file, 4 pages, \d+ tokens/).waitFor();
      check((await page.getByRole('alert').count()) === 0, 'the earlier error is gone');
      await shot(page, '03-pdf-open');
    },
  ],
  [
    'a question gets an answer that streams',
    async (page) => {
      let shotTaken = false;
      const partials = await ask(page, 'What is this report about?', async (text) => {
        if (text.length < 20 || shotTaken) return false;
        shotTaken = true;
        await shot(page, '04-streaming');
        return true;
      });
      check(partials.length >= 2, `the answer arrived in pieces (saw ${partials.length} partial texts)`);
      const answer = await assistant(page).last().innerText();
      check(answer.length > 20, `an answer was written: ${answer}`);
      await shot(page, '05-answered');
    },
  ],
  [
    'Statistics show the engine timings of the answer',
    async (page) => {
      const decode = firstNumber(await stat(page, 'Decode speed'));
      const prefill = firstNumber(await stat(page, 'Prefill'));
      const context = firstNumber(await stat(page, 'Context used'));
      const generated = firstNumber(await stat(page, 'Generated'));
      check(decode > 0 && prefill > 0 && generated > 0, `non-zero timings: decode ${decode}, prefill ${prefill}, generated ${generated}`);
      check(context > 100, `context used includes the PDF: ${context}`);
      await page.getByRole('region', { name: 'Statistics' }).screenshot({ path: path.join(SHOTS, '06-statistics.png') });
    },
  ],
  [
    'a follow-up reuses the cached prompt',
    async (page) => {
      await ask(page, 'Summarize the last page in one sentence.');
      check((await assistant(page).count()) === 2, 'two answers');
      const reused = firstNumber(await stat(page, 'Prompt tokens reused'));
      check(reused > 100, `prompt tokens reused: ${reused}`);
      await shot(page, '07-follow-up');
    },
  ],
  [
    'Stop ends a generation and keeps the partial answer',
    async (page) => {
      await ask(page, 'Write a very long story about this report, chapter by chapter.', async (text) => {
        if (text.length < 40) return false;
        await page.getByRole('button', { name: 'Stop' }).click();
        return true;
      });
      const last = assistant(page).last();
      check((await assistant(page).count()) === 3, 'three answers');
      check((await last.locator('.note').innerText()) === 'Stopped.', 'the answer is marked stopped');
      const generated = firstNumber(await stat(page, 'Generated'));
      check(generated > 0 && generated < MAX_TOKENS, `stopped early: ${generated} tokens`);
      await shot(page, '08-stopped');
    },
  ],
  [
    'after a reload the chat is still there',
    async (page) => {
      const before = await page.getByLabel('Conversation').innerText();
      await page.reload();
      await page.locator('[data-role="assistant"]').nth(2).waitFor();
      check((await page.getByLabel('Conversation').innerText()) === before, 'the same conversation');
      await page.getByLabel('Open documents').getByText(/report\.pdf: 1 file, 4 pages/).waitFor();
      check((await page.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: 'report.pdf' }).count()) === 1, 'listed in Chats');
      check(pageErrors.length === 0, `no page errors or CSP violations: ${pageErrors.join(' | ')}`);
      await shot(page, '09-reloaded');
    },
  ],
  [
    'a folder in a new chat lists what it read and what it skipped',
    async (page) => {
      await page.getByRole('button', { name: 'New chat' }).click();
      await page.getByText('No documents in this chat.').waitFor();
      await page.getByLabel('Document path').fill(path.dirname(PDF));
      await page.getByRole('button', { name: 'Open folder' }).click();
      const docs = page.getByLabel('Open documents');
      await docs.getByText(/^docs: \d+ files/).waitFor({ timeout: 30_000 });
      check((await docs.getByRole('listitem').filter({ hasText: 'report.pdf (4 pages)' }).count()) === 1, 'report.pdf is listed with its pages');
      const skipped = await docs.locator('details').innerText();
      check(/encrypted\.pdf/.test(skipped) && /corrupt\.pdf/.test(skipped), `skipped files are named with reasons: ${skipped}`);
      check((await page.getByRole('navigation', { name: 'Chats' }).getByRole('button').count()) === 3, 'two chats listed beside New chat');
      await shot(page, '10-folder');
    },
  ],
];

async function main(): Promise<number> {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  await ensureRendererBuilt();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'squeeze-e2e-data-'));
  const profile = mkdtempSync(path.join(tmpdir(), 'squeeze-e2e-chromium-'));
  let server: WebServer | undefined;
  const core = createAppCore({ dataDir, maxTokens: MAX_TOKENS, emit: (event, payload) => server?.broadcast(event, payload) });
  server = await startWebServer({ handlers: core.handlers, staticDir: RENDERER_BUILD });
  const status = await core.models.load();
  if (status.state !== 'ready') throw new Error(`the default model did not load: ${status.error?.message}`);

  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  let passed = 0;
  let failed = 0;
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(server.url);
    let broken = false;
    for (const [name, run] of steps) {
      const started = Date.now();
      if (broken) {
        failed++;
        process.stdout.write(`not ok - ${name} (not run: an earlier step failed)\n`);
        continue;
      }
      try {
        await run(page);
        passed++;
        process.stdout.write(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
      } catch (e) {
        failed++;
        broken = true;
        const errors = pageErrors.length > 0 ? `\n  page errors: ${pageErrors.join(' | ')}` : '';
        process.stdout.write(`not ok - ${name}\n  ${(e as Error).message.split('\n').join('\n  ')}${errors}\n`);
        await shot(page, 'failure').catch(() => {});
      }
    }
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stdout.write(`not ok - setup: ${(e as Error).message}\n0 passed, 1 failed\n`);
    process.exit(1);
  },
);
