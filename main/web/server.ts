// Browser mode: the renderer and the IPC contract over HTTP + WebSocket on 127.0.0.1. Anyone on the
// machine can reach a loopback port, so every request needs the per-run secret token: in the URL
// the app prints (which then sets an HttpOnly cookie for the page's own assets), or that cookie.
// The Host and Origin headers must name this server, which stops DNS rebinding and other sites'
// pages from opening the WebSocket with the user's cookie.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';

import type { EventChannel, EventPayload, Handlers, Result } from '../ipc/contract.ts';
import { createRouter } from '../ipc/router.ts';

export interface WebServerOptions {
  handlers: Handlers;
  /** the built renderer (index.html and assets/) */
  staticDir: string;
  /** 0 picks a free port */
  port?: number;
  token?: string;
}

export interface WebServer {
  /** the address to open, token included */
  url: string;
  port: number;
  token: string;
  broadcast<E extends EventChannel>(event: E, payload: EventPayload<E>): void;
  close(): Promise<void>;
}

/** Wire messages: requests carry an id that their reply repeats; events have none. */
export interface WireRequest {
  id: number;
  channel: string;
  payload: unknown;
}
export type WireMessage = { id: number; result: Result<unknown> } | { event: EventChannel; payload: unknown };

const HOST = '127.0.0.1';
const COOKIE = 'squeeze_token';
const MAX_MESSAGE_BYTES = 1 << 20;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

function sameSecret(a: string | undefined | null, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

function parseRequest(data: string): WireRequest | undefined {
  try {
    const m = JSON.parse(data) as Partial<WireRequest> | null;
    if (!m || typeof m !== 'object' || typeof m.id !== 'number' || !Number.isSafeInteger(m.id)) return undefined;
    return { id: m.id, channel: typeof m.channel === 'string' ? m.channel : '', payload: m.payload };
  } catch {
    return undefined;
  }
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const staticDir = path.resolve(options.staticDir);
  // Sockets that passed the token and origin checks: the router's known senders.
  const sockets = new Set<WebSocket>();
  const route = createRouter({ handlers: options.handlers, isKnownSender: (socket: WebSocket) => sockets.has(socket) });
  let port = 0;
  const allowedHosts = () => [`${HOST}:${port}`, `localhost:${port}`];

  const csp = () =>
    [
      "default-src 'self'",
      `connect-src 'self' ws://${HOST}:${port} ws://localhost:${port}`,
      "img-src 'self' data:",
      "style-src 'self'",
      "script-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      "form-action 'none'",
    ].join('; ');

  function authorized(req: IncomingMessage, url: URL): boolean {
    if (!allowedHosts().includes(req.headers.host ?? '')) return false;
    return sameSecret(url.searchParams.get('token'), token) || sameSecret(cookieToken(req), token);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const relative = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const file = path.resolve(staticDir, relative);
    if (!file.startsWith(staticDir + path.sep)) {
      res.writeHead(404).end();
      return;
    }
    let body: Buffer;
    try {
      body = await fsp.readFile(file);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-security-policy': csp(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    };
    if (url.searchParams.has('token')) headers['set-cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    if (!authorized(req, url)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: open the address Squeeze printed; it carries this run\'s secret token.');
      return;
    }
    serveStatic(req, res, url).catch(() => res.writeHead(500).end());
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    const origin = req.headers.origin ?? '';
    const sameOrigin = allowedHosts().some((h) => origin === `http://${h}`);
    if (url.pathname !== '/ws' || !sameOrigin || !authorized(req, url)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data, isBinary) => {
        const request = isBinary ? undefined : parseRequest(data.toString());
        if (!request) {
          ws.close(1003, 'malformed message');
          return;
        }
        void route(request.channel, request.payload, ws).then((result) => {
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: request.id, result } satisfies WireMessage));
        });
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://${HOST}:${port}/?token=${token}`,
    port,
    token,
    broadcast(event, payload) {
      const message = JSON.stringify({ event, payload } satisfies WireMessage);
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(message);
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
