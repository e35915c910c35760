import type { Bridge } from '../bridge.ts';
import { uiError } from './ui-error.ts';
import type { DocsSlice, Slice } from './types.ts';

export const createDocsSlice =
  (bridge: Bridge): Slice<DocsSlice> =>
  (set, get) => ({
    canPickFiles: bridge.canPickFiles,
    opening: false,

    async openDocuments(path, kind) {
      const target = path.trim();
      if (!target) {
        set({ docError: { code: 'DOC_NO_PATH', message: kind === 'pdf' ? 'Type the path of a PDF first.' : 'Type the path of a folder first.' } });
        return;
      }
      const chat = get().current ?? (await get().newChat());
      if (!chat) return;
      set({ opening: true, progress: undefined, docError: undefined });
      const r = await bridge.invoke('doc:open', { chatId: chat.id, path: target, kind });
      set({ opening: false });
      if (!r.ok) {
        set({ docError: uiError(r) });
        return;
      }
      if (get().current?.id === chat.id) set({ current: r.data });
      await get().listChats();
    },

    async pickDocuments(kind) {
      const r = await bridge.invoke('doc:pick', { kind });
      if (!r.ok) set({ docError: uiError(r) });
      else if (r.data.path) await get().openDocuments(r.data.path, kind);
    },

    setProgress: (progress) => set({ progress }),

    async cancelOpening() {
      const chatId = get().current?.id;
      if (!chatId || !get().opening) return;
      const r = await bridge.invoke('doc:cancel', { chatId });
      if (!r.ok) set({ docError: uiError(r) });
    },

    async showPage(source, page) {
      const chatId = get().current?.id;
      if (!chatId) return;
      const r = await bridge.invoke('doc:page', { chatId, source, page });
      if (r.ok) set({ page: r.data, pageError: undefined });
      else set({ page: undefined, pageError: uiError(r) });
    },

    closePage: () => set({ page: undefined, pageError: undefined }),
  });
