// Installer configuration for electron-builder (`npm run dist`). Building needs Electron's binary,
// which electron-builder downloads when it runs: not possible on the build machines here, so this
// file is type-checked but no installer is built in CI.
//
// The main process runs as TypeScript through tsx (main/electron/entry.mjs), so the sources ship
// beside the built renderer, the bundled preload and the N-API addon (one build serves Node and
// Electron). The addon and pdf.js stay outside the asar archive: a .node file cannot be loaded from
// inside it, and pdf.js loads its worker by path.
import type { Configuration } from 'electron-builder';

const config: Configuration = {
  appId: 'dev.squeeze.app',
  productName: 'Squeeze',
  copyright: 'Apache-2.0',
  directories: { output: 'build/dist', buildResources: 'renderer/public' },
  extraMetadata: { main: 'main/electron/entry.mjs' },
  files: ['package.json', 'main/**/*', 'build/renderer/**/*', 'build/electron/preload.cjs', 'build/native/Release/squeeze.node', '!**/*.test.ts'],
  asarUnpack: ['build/native/Release/squeeze.node', 'node_modules/pdfjs-dist/**/*'],
  // The addon is N-API and built by cmake-js, not node-gyp: nothing to rebuild per Electron version.
  npmRebuild: false,
  linux: { target: ['AppImage', 'deb'], category: 'Office', maintainer: 'Squeeze <squeeze@localhost>' },
  win: { target: ['nsis'] },
  nsis: { oneClick: false, allowToChangeInstallationDirectory: true },
  mac: { target: ['dmg'], category: 'public.app-category.productivity' },
};

export default config;
