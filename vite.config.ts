// The renderer build: one bundle served by browser mode and loaded from disk by Electron.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'renderer',
  // relative asset URLs: the same build loads over http:// (browser mode) and file:// (Electron)
  base: './',
  plugins: [react()],
  build: { outDir: '../build/renderer', emptyOutDir: true },
});
