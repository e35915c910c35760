// Channel names only, without schemas: the Electron preload imports this file, and a sandboxed
// preload cannot load zod. contract.ts checks at compile time that both lists agree.

export const REQUEST_CHANNELS = [
  'model:load',
  'model:info',
  'chat:list',
  'chat:get',
  'chat:new',
  'chat:delete',
  'chat:send',
  'chat:stop',
  'doc:open',
  'doc:pick',
  'doc:cancel',
  'doc:page',
  'chat:regenerate',
  'chat:edit',
  'settings:get',
  'settings:set',
  'model:list',
  'model:download',
  'model:cancel-download',
] as const;

export const EVENT_CHANNELS = ['model:status', 'chat:delta', 'doc:progress', 'model:download-progress', 'app:command'] as const;

export type RequestChannel = (typeof REQUEST_CHANNELS)[number];
export type EventChannel = (typeof EVENT_CHANNELS)[number];
