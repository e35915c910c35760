// `npm run build:app`: what the Electron shell loads (renderer bundle and bundled preload), before
// electron-builder packs them (`npm run dist`).
import { ensurePreloadBuilt, ensureRendererBuilt } from '../app/build-ui.ts';

await ensureRendererBuilt();
await ensurePreloadBuilt();
