// Browser mode's bridge: the token guards every request, the WebSocket carries the contract.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

import type { Chat, Handlers } from '../../main/ipc/contract.ts';
import { startWebServer, type WireMessage } from '../../main/web/server.ts';

const staticDir = mkdtempSync(path.join(tmpdir(), 'squeeze-web-'));
mkdirSync(path.join(staticDir, 'assets'));
writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>Squeeze</title>');
writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'export {};');
writeFileSync(path.join(staticDir, '..', 'secret.txt'), 'outside');

const chat: Chat = { id: 'c1', title: 'First', createdAt: 1, updatedAt: 2, messages: [] };
const handlers = {
  'chat:list': async () => ({ chats: [{ id: chat.id, title: chat.title, updatedAt: chat.updatedAt }] }),
  'chat:get': async () => chat,
} as Partial<Handlers> as Handlers;

const server = await startWebServer({ handlers, staticDir });
after(() => server.close());
const base = `http://127.0.0.1:${server.port}`;

function get(pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${pathAndQuery}`, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connect(query: string, origin: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws${query}`, origin ? { origin } : {});
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws: WebSocket): Promise<WireMessage> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(JSON.parse(data.toString()) as WireMessage)));
}

test('the printed URL carries the token and opens the page, setting an HttpOnly cookie', async () => {
  assert.equal(server.url, `${base}/?token=${server.token}`);
  const res = await get(`/?token=${server.token}`);
  assert.equal(res.status, 200);
  assert.match(res.body, /<title>Squeeze/);
  assert.match(String(res.headers['set-cookie']), /squeeze_token=.*HttpOnly; SameSite=Strict/);
  assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
  assert.equal((await get('/assets/app.js', { cookie: `squeeze_token=${server.token}` })).status, 200);
});

test('requests without the token, with a wrong one or a foreign Host are refused', async () => {
  assert.equal((await get('/')).status, 403);
  assert.equal((await get('/assets/app.js')).status, 403);
  assert.equal((await get(`/?token=${server.token.slice(1)}`)).status, 403);
  assert.equal((await get('/', { cookie: 'squeeze_token=guess' })).status, 403);
  assert.equal((await get(`/?token=${server.token}`, { host: 'evil.example:80' })).status, 403);
});

test('files outside the renderer are not served', async () => {
  assert.equal((await get(`/..%2Fsecret.txt?token=${server.token}`)).status, 404);
  assert.equal((await get(`/missing.js?token=${server.token}`)).status, 404);
});

test('the WebSocket needs the token and this origin', async () => {
  await assert.rejects(connect('', base));
  await assert.rejects(connect(`?token=${server.token}`, 'http://evil.example'));
  await assert.rejects(connect(`?token=${server.token}`, undefined));
  await assert.rejects(connect('?token=nope', base));
});

test('requests, coded errors and events travel over the WebSocket', async () => {
  const ws = await connect(`?token=${server.token}`, base);
  ws.send(JSON.stringify({ id: 7, channel: 'chat:list', payload: {} }));
  assert.deepEqual(await next(ws), { id: 7, result: { ok: true, data: { chats: [{ id: 'c1', title: 'First', updatedAt: 2 }] } } });
  ws.send(JSON.stringify({ id: 8, channel: 'chat:get', payload: { chatId: 42 } }));
  const bad = await next(ws);
  assert.ok('id' in bad && bad.id === 8 && !bad.result.ok && bad.result.code === 'IPC_BAD_REQUEST');
  ws.send(JSON.stringify({ id: 9, channel: 'shell:exec', payload: {} }));
  const unknown = await next(ws);
  assert.ok('id' in unknown && !unknown.result.ok && unknown.result.code === 'IPC_UNKNOWN_CHANNEL');
  const event = next(ws);
  server.broadcast('chat:delta', { chatId: 'c1', messageId: 'm1', text: 'Hel' });
  assert.deepEqual(await event, { event: 'chat:delta', payload: { chatId: 'c1', messageId: 'm1', text: 'Hel' } });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send('not json');
  assert.equal(await closed, 1003);
});
