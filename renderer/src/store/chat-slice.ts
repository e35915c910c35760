import type { Bridge } from '../bridge.ts';
import { uiError } from './ui-error.ts';
import type { ChatSlice, Slice } from './types.ts';

export const createChatSlice =
  (bridge: Bridge): Slice<ChatSlice> =>
  (set, get) => ({
    chats: [],

    async listChats() {
      const r = await bridge.invoke('chat:list', {});
      if (r.ok) set({ chats: r.data.chats });
      else set({ chatError: uiError(r) });
    },

    async openChat(chatId) {
      const r = await bridge.invoke('chat:get', { chatId });
      if (r.ok) set({ current: r.data, chatError: undefined });
      else set({ chatError: uiError(r) });
    },

    async newChat() {
      const r = await bridge.invoke('chat:new', {});
      if (!r.ok) {
        set({ chatError: uiError(r) });
        return undefined;
      }
      set({ current: r.data, chatError: undefined });
      await get().listChats();
      return r.data;
    },

    async send(text) {
      const question = text.trim();
      if (!question || get().pending) return;
      const chat = get().current ?? (await get().newChat());
      if (!chat) return;
      set({ pending: { chatId: chat.id, question, text: '', stopping: false }, chatError: undefined });
      const r = await bridge.invoke('chat:send', { chatId: chat.id, text: question });
      set({ pending: undefined });
      if (r.ok) {
        if (get().current?.id === chat.id) set({ current: r.data.chat });
      } else {
        // The question was stored before the failure; show the chat as the main process has it.
        if (get().current?.id === chat.id) await get().openChat(chat.id);
        set({ chatError: uiError(r) });
      }
      await get().listChats();
    },

    async stop() {
      const pending = get().pending;
      if (!pending) return;
      set({ pending: { ...pending, stopping: true } });
      const r = await bridge.invoke('chat:stop', { chatId: pending.chatId });
      if (!r.ok) set({ chatError: uiError(r) });
    },

    appendDelta(delta) {
      const pending = get().pending;
      if (pending?.chatId === delta.chatId) set({ pending: { ...pending, text: pending.text + delta.text } });
    },
  });
