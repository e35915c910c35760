// The Electron menu's File > Open PDF… / Open Folder… reach the renderer as 'app:command' events and
// run the same verbs as its buttons (doc:pick, then doc:open into the current chat).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Bridge } from '../../renderer/src/bridge.ts';
import { connectEvents, createAppStore } from '../../renderer/src/store/app-store.ts';
import { fakeBridge } from './fake-bridge.ts';

test('menu commands open a picked PDF or folder in the current chat', async () => {
  const chat = { id: 'c1', title: 't', createdAt: 1, updatedAt: 1, messages: [] };
  const { bridge: scripted, calls, emit } = fakeBridge({
    'doc:pick': ({ kind }) => ({ ok: true, data: { path: kind === 'pdf' ? '/docs/a.pdf' : '/docs' } }),
    'chat:new': () => ({ ok: true, data: chat }),
    'chat:list': () => ({ ok: true, data: { chats: [] } }),
    'doc:open': () => ({ ok: true, data: chat }),
  });
  const bridge: Bridge = { ...scripted, canPickFiles: true };
  const store = createAppStore(bridge);
  connectEvents(store, bridge);
  emit('app:command', { command: 'open-pdf' });
  await new Promise((r) => setTimeout(r, 10));
  emit('app:command', { command: 'open-folder' });
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(
    calls.filter(([c]) => c === 'doc:pick' || c === 'doc:open'),
    [
      ['doc:pick', { kind: 'pdf' }],
      ['doc:open', { chatId: 'c1', path: '/docs/a.pdf', kind: 'pdf' }],
      ['doc:pick', { kind: 'folder' }],
      ['doc:open', { chatId: 'c1', path: '/docs', kind: 'folder' }],
    ],
  );
});
