import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver answers. */
export interface ReceiverAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for a vendor's API (LaunchDarkly, Slack): it
 * records every request exactly as sent and answers in the vendor's documented format.
 */
export interface HttpReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  answer: (req: ReceivedRequest) => ReceiverAnswer;
  close(): Promise<void>;
}

/** Starts a receiver; `answer` decides each response. */
export async function startReceiver(answer: (req: ReceivedRequest) => ReceiverAnswer): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const receiver = { answer } as { answer: (req: ReceivedRequest) => ReceiverAnswer };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      const out = receiver.answer(seen);
      const text = out.body === undefined ? '' : typeof out.body === 'string' ? out.body : JSON.stringify(out.body);
      res.writeHead(out.status, { 'Content-Type': typeof out.body === 'string' ? 'text/plain' : 'application/json', ...out.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get answer() {
      return receiver.answer;
    },
    set answer(fn) {
      receiver.answer = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
