// Child process of the kill-during-write test: saves chats through ChatStore in a loop, forever,
// and reports each save on stdout only after save() resolved ("saved <chat id> <message count>").
// On start it continues the chats already on disk, as the app does after a restart.
//
//   node --import tsx test/persistence/chat-writer.ts DATA_DIR N_CHATS
import { writeSync } from 'node:fs';

import { ChatStore, type StoredChat } from '../../main/app/chat-store.ts';

const [dataDir, nChats] = [process.argv[2], Number(process.argv[3])];
const store = new ChatStore(dataDir);
const chats: StoredChat[] = [];
for (let c = 0; c < nChats; c++) {
  const id = `chat-${c}`;
  chats.push((await store.load(id)) ?? { id, title: id, createdAt: Date.now(), updatedAt: Date.now(), messages: [] });
}
writeSync(1, `ready ${chats.map((c) => c.messages.length).join(' ')}\n`);
for (let turn = 0; ; turn++) {
  const chat = chats[turn % nChats];
  const n = chat.messages.length;
  // Long messages (tens of KB, growing with the chat) keep each write open long enough for kills to land inside it.
  const content = `message ${n} of ${chat.id}: ${'lorem ipsum '.repeat(2000 + 500 * (n % 16))}`;
  chat.messages.push({ id: `m${n}`, role: n % 2 === 0 ? 'user' : 'assistant', content });
  chat.updatedAt = Date.now();
  await store.save(chat);
  writeSync(1, `saved ${chat.id} ${chat.messages.length}\n`);
}
