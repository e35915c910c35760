import type { Bridge } from '../bridge.ts';
import { uiError } from './ui-error.ts';
import type { SettingsSlice, Slice } from './types.ts';

export const createSettingsSlice =
  (bridge: Bridge): Slice<SettingsSlice> =>
  (set, get) => ({
    async loadSettings() {
      const r = await bridge.invoke('settings:get', {});
      if (r.ok) set({ settings: r.data.settings, system: r.data.system, settingsError: undefined });
      else set({ settingsError: uiError(r) });
    },

    async updateSettings(change) {
      const before = get().settings;
      // Shown at once; the main process's answer (or the old value on failure) follows.
      if (before) set({ settings: { ...before, ...change } });
      const r = await bridge.invoke('settings:set', change);
      if (r.ok) set({ settings: r.data.settings, system: r.data.system, settingsError: undefined });
      else set({ settings: before, settingsError: uiError(r) });
    },
  });
