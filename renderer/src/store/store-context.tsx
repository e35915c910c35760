// React's access to the store: components select the smallest slice they need.
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';

import type { AppStore } from './app-store.ts';
import type { AppState } from './types.ts';

const StoreContext = createContext<AppStore | null>(null);

export function StoreProvider({ store, children }: { store: AppStore; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useAppStore<T>(selector: (state: AppState) => T): T {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useAppStore outside StoreProvider');
  return useStore(store, selector);
}
