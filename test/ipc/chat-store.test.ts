import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ChatStore, type StoredChat } from '../../main/app/chat-store.ts';

const chat = (id: string, updatedAt: number): StoredChat => ({ id, title: id, createdAt: 0, updatedAt, messages: [{ id: 'm1', role: 'user', content: 'hi' }], context: 'doc text' });

test('chats round-trip, newest first, and leave no temp files', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'squeeze-store-'));
  const store = new ChatStore(dir);
  await store.save(chat('a', 1));
  await store.save(chat('b', 2));
  await store.save({ ...chat('a', 3), title: 'renamed' });
  const list = await store.list();
  assert.deepEqual(list.map((c) => [c.id, c.title]), [['a', 'renamed'], ['b', 'b']]);
  assert.equal(list[0].context, 'doc text');
  assert.deepEqual(readdirSync(path.join(dir, 'chats')).sort(), ['a.json', 'b.json']);
  assert.equal(await store.remove('b'), true);
  assert.equal(await store.load('b'), undefined);
});

test('damaged, foreign and misnamed files are skipped, not trusted', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'squeeze-store-'));
  const store = new ChatStore(dir);
  await store.save(chat('good', 1));
  const chats = path.join(dir, 'chats');
  writeFileSync(path.join(chats, 'torn.json'), '{"id":"torn","title":');
  writeFileSync(path.join(chats, 'other.json'), JSON.stringify({ id: 'other', messages: 'nope' }));
  writeFileSync(path.join(chats, 'alias.json'), JSON.stringify(chat('good', 5)));
  assert.deepEqual((await store.list()).map((c) => c.id), ['good']);
});
