// Files and folders dropped on the window: a PDF or a folder becomes the chat's documents, a .gguf
// becomes the model. Only the desktop app can learn where a dropped file is on disk; in browser mode
// the user is told to type the path instead.
import type { Bridge } from '../bridge.ts';
import type { Slice, UiError } from './types.ts';

export interface DroppedItem {
  file: File;
  /** from DataTransferItem.webkitGetAsEntry(): a File object alone cannot tell a folder apart */
  isDirectory: boolean;
}

export interface DropSlice {
  /** false in browser mode, where a page never learns a dropped file's path */
  canDropFiles: boolean;
  dropNotice?: UiError;
  dropItems(items: DroppedItem[]): Promise<void>;
  clearDropNotice(): void;
}

export const createDropSlice =
  (bridge: Bridge): Slice<DropSlice> =>
  (set, get) => ({
    canDropFiles: bridge.pathForFile !== undefined,

    async dropItems(items) {
      const notice = (code: string, message: string) => set({ dropNotice: { code, message } });
      if (!bridge.pathForFile) {
        notice('DROP_NEEDS_DESKTOP', 'Dropping files works in the desktop app. Here, type the path into the Document path field (or the model file field) instead.');
        return;
      }
      if (items.length !== 1) {
        notice('DROP_ONE_ITEM', `Drop one PDF, folder or .gguf model at a time (that was ${items.length}).`);
        return;
      }
      const { file, isDirectory } = items[0]!;
      const path = bridge.pathForFile(file);
      if (!path) {
        notice('DROP_NO_PATH', `${file.name} is not a file on this computer (it came from another app or a web page).`);
        return;
      }
      set({ dropNotice: undefined });
      if (isDirectory) await get().openDocuments(path, 'folder');
      else if (/\.pdf$/i.test(file.name)) await get().openDocuments(path, 'pdf');
      else if (/\.gguf$/i.test(file.name)) await get().loadModel(path);
      else notice('DROP_UNSUPPORTED', `Squeeze opens PDFs, folders and .gguf models; ${file.name} is none of these. To read text or code files, drop their folder.`);
    },

    clearDropNotice: () => set({ dropNotice: undefined }),
  });
