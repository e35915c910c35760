import type { UiError } from './types.ts';

/** The user-facing part of a failed IPC result. */
export function uiError(result: { code: string; message: string }): UiError {
  return { code: result.code, message: result.message };
}
