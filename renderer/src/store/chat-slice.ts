import type { Chat, Result } from '../../../main/ipc/contract.ts';
import type { Bridge } from '../bridge.ts';
import { uiError } from './ui-error.ts';
import type { ChatSlice, PendingAnswer, Slice } from './types.ts';

export const createChatSlice =
  (bridge: Bridge): Slice<ChatSlice> =>
  (set, get) => {
    /**
     * One answer of any kind (send, regenerate, edit): shown as pending while it streams, then the
     * chat as the main process stored it. On a refusal the chat is re-read (the main process puts it
     * back as it was) and the error is shown.
     */
    async function answer(chat: Chat, pending: Omit<PendingAnswer, 'chatId' | 'text' | 'stopping'>, request: () => Promise<Result<{ chat: Chat }>>): Promise<boolean> {
      // progress: a question can start the pack build of a chat reopened after a restart.
      set({ pending: { chatId: chat.id, text: '', stopping: false, ...pending }, chatError: undefined, progress: undefined });
      const r = await request();
      set({ pending: undefined });
      if (r.ok) {
        if (get().current?.id === chat.id) set({ current: r.data.chat });
      } else {
        if (get().current?.id === chat.id) await get().openChat(chat.id);
        set({ chatError: uiError(r) });
      }
      await get().listChats();
      return r.ok;
    }

    return {
      chats: [],

      async listChats() {
        const r = await bridge.invoke('chat:list', {});
        if (r.ok) set({ chats: r.data.chats });
        else set({ chatError: uiError(r) });
      },

      async openChat(chatId) {
        const r = await bridge.invoke('chat:get', { chatId });
        // A cited page belongs to the chat it was opened from.
        if (r.ok) set({ current: r.data, chatError: undefined, ...(get().current?.id !== chatId && { page: undefined, pageError: undefined }) });
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
        if (!question || get().pending) return false;
        const chat = get().current ?? (await get().newChat());
        if (!chat) return false;
        return answer(chat, { question }, () => bridge.invoke('chat:send', { chatId: chat.id, text: question }));
      },

      async regenerate(attention) {
        const chat = get().current;
        const [question, last] = chat?.messages.slice(-2) ?? [];
        if (!chat || get().pending || question?.role !== 'user' || last?.role !== 'assistant') return false;
        return answer(chat, { question: question.content, replacesFrom: question.id }, () =>
          bridge.invoke('chat:regenerate', { chatId: chat.id, ...(attention && { attention }) }),
        );
      },

      async edit(messageId, text) {
        const question = text.trim();
        const chat = get().current;
        if (!chat || !question || get().pending) return false;
        return answer(chat, { question, replacesFrom: messageId }, () => bridge.invoke('chat:edit', { chatId: chat.id, messageId, text: question }));
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
    };
  };
