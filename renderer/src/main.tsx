import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import type { SqueezeApi } from '../../main/ipc/preload-api.ts';
import { App } from './components/app.tsx';
import { createElectronBridge, createWebSocketBridge } from './bridge.ts';
import { StoreProvider } from './store/store-context.tsx';
import { connectEvents, createAppStore, startApp } from './store/app-store.ts';
import './styles.css';

/** Browser mode: the WebSocket of the server that served this page, with the page's token. */
function socketUrl(): string {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  return `ws://${location.host}/ws?token=${encodeURIComponent(token)}`;
}

const api = (window as { squeeze?: SqueezeApi }).squeeze;
const bridge = api ? createElectronBridge(api) : createWebSocketBridge(socketUrl());
const store = createAppStore(bridge);
connectEvents(store, bridge);
void startApp(store);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreProvider store={store}>
      <App />
    </StoreProvider>
  </StrictMode>,
);
