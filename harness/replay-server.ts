import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from './ports.js';

// Answers recorded from GitHub's REST API, replayed in order: for the behaviour that depends on
// history and on failures (retries, rate limits, bad tokens, lost races), which Prism cannot give.

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Seen {
  method: string;
  path: string;
  at: number;
  body: string;
}

/** Answers `METHOD /path` (query ignored) with the next reply of its sequence; the last reply repeats. */
export class ReplayServer {
  readonly seen: Seen[] = [];
  private routes = new Map<string, Reply[]>();
  private server!: Server;
  url = '';
  async start(): Promise<void> {
    const port = await freePort();
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        this.seen.push({ method: req.method ?? '', path, at: Date.now(), body });
        const queue = this.routes.get(`${req.method} ${path}`);
        const reply = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
        if (!reply) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }));
          return;
        }
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${port}`;
  }
  reset(): void {
    this.routes.clear();
    this.seen.length = 0;
  }
  on(route: string, ...replies: Reply[]): void {
    this.routes.set(route, replies);
  }
  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
