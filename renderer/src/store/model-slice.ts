import type { Bridge } from '../bridge.ts';
import { uiError } from './ui-error.ts';
import type { ModelSlice, Slice } from './types.ts';

export const createModelSlice =
  (bridge: Bridge): Slice<ModelSlice> =>
  (set) => ({
    model: { state: 'none' },
    setModelStatus: (model) => set({ model }),
    async refreshModel() {
      const r = await bridge.invoke('model:info', {});
      set({ model: r.ok ? r.data : { state: 'error', error: uiError(r) } });
    },
    async loadModel(path) {
      const r = await bridge.invoke('model:load', path ? { path } : {});
      set({ model: r.ok ? r.data : { state: 'error', error: uiError(r) } });
    },
  });
