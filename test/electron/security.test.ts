// The Electron shell's security settings, checked without Electron's binary: what the window runs
// with, the renderer's CSP, which IPC senders are trusted, which links may leave the app.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { APP_ORIGIN, CSP, isAppSender, isExternalUrl, SECURE_WEB_PREFERENCES } from '../../main/electron/security.ts';

test('the window is isolated and sandboxed, without Node, webviews or drag navigation', () => {
  assert.equal(SECURE_WEB_PREFERENCES.contextIsolation, true);
  assert.equal(SECURE_WEB_PREFERENCES.sandbox, true);
  assert.equal(SECURE_WEB_PREFERENCES.nodeIntegration, false);
  assert.equal(SECURE_WEB_PREFERENCES.nodeIntegrationInWorker, false);
  assert.equal(SECURE_WEB_PREFERENCES.nodeIntegrationInSubFrames, false);
  assert.equal(SECURE_WEB_PREFERENCES.webSecurity, true);
  assert.equal(SECURE_WEB_PREFERENCES.webviewTag, false);
  assert.equal(SECURE_WEB_PREFERENCES.navigateOnDragDrop, false);
});

test('the CSP allows only the app\'s own scripts and styles, and no connections, objects, frames or forms', () => {
  const directives = new Map(CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
  assert.equal(directives.get('default-src'), "'self'");
  assert.equal(directives.get('script-src'), "'self'");
  assert.equal(directives.get('style-src'), "'self'");
  assert.equal(directives.get('connect-src'), "'none'");
  assert.equal(directives.get('object-src'), "'none'");
  assert.equal(directives.get('frame-ancestors'), "'none'");
  assert.equal(directives.get('form-action'), "'none'");
  assert.doesNotMatch(CSP, /unsafe-(inline|eval)/);
});

test('only the app window\'s main frame, on the app origin, is a trusted IPC sender', () => {
  const mainFrame = { url: `${APP_ORIGIN}/index.html` };
  const window = { webContents: { id: 7, mainFrame } };
  assert.equal(isAppSender({ sender: { id: 7 }, senderFrame: mainFrame }, window), true);
  assert.equal(isAppSender({ sender: { id: 8 }, senderFrame: mainFrame }, window), false, 'another webContents');
  assert.equal(isAppSender({ sender: { id: 7 }, senderFrame: { url: `${APP_ORIGIN}/index.html` } }, window), false, 'a subframe');
  assert.equal(isAppSender({ sender: { id: 7 }, senderFrame: null }, window), false, 'a frame already gone');
  assert.equal(isAppSender({ sender: { id: 7 }, senderFrame: mainFrame }, undefined), false, 'no window');
  const navigated = { webContents: { id: 7, mainFrame: { url: 'app://squeeze.evil.example/x' } } };
  assert.equal(isAppSender({ sender: { id: 7 }, senderFrame: navigated.webContents.mainFrame }, navigated), false, 'another origin');
});

test('only web and mail links may leave the app, to the system browser', () => {
  for (const url of ['https://example.org/a', 'http://example.org', 'mailto:me@example.org', 'HTTPS://EXAMPLE.ORG']) assert.equal(isExternalUrl(url), true, url);
  for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'app://squeeze/index.html', 'smb://host/share', 'data:text/html,x', ' https://x']) {
    assert.equal(isExternalUrl(url), false, url);
  }
});
