import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../harness/ports.js';

/** One row of the fault table every fault file prints: what broke, when, what happened, where traffic ended. */
export interface FaultRow {
  fault: string;
  phase: string;
  outcome: string;
  canary: string;
}

/** Collects rows and prints them as a Markdown table (the same table docs/reliability.md shows). */
export class FaultTable {
  readonly rows: FaultRow[] = [];
  constructor(private readonly title: string) {}

  add(row: FaultRow): void {
    this.rows.push(row);
  }

  render(): string {
    const lines = [
      '| fault | phase | outcome | traffic left on canary |',
      '| --- | --- | --- | --- |',
      ...this.rows.map((r) => `| ${r.fault} | ${r.phase} | ${r.outcome} | ${r.canary} |`),
    ];
    return `\n${this.title}\n\n${lines.join('\n')}\n`;
  }

  /** Prints through stdout directly: jest's console would wrap the table in a stack-annotated box. */
  print(): void {
    process.stdout.write(this.render());
  }
}

export { runStep } from '../../harness/action-step.js';

export interface BundleRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved. */
  output: string;
  outputs: Record<string, string>;
  outputFile: string;
  summary: string;
}

/** A bundle started as the runner starts it: INPUT_* variables (hyphens kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. */
export function startBundle(
  name: string,
  inputs: Record<string, string>,
  options: { dir: string; env?: NodeJS.ProcessEnv; tag: string },
): { child: ChildProcess; done: Promise<BundleRun>; output: () => string } {
  const outputFile = join(options.dir, `output-${options.tag}`);
  const summaryFile = join(options.dir, `summary-${options.tag}`);
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GITHUB_') && !k.startsWith('INPUT_') && !k.startsWith('ROLLGATE_')) env[k] = v;
  Object.assign(env, { GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile }, options.env);
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const child = spawn(process.execPath, [resolve(`dist/${name}/index.js`)], { cwd: options.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const done = new Promise<BundleRun>((resolveRun) =>
    child.on('close', (code, signal) => {
      const outputs: Record<string, string> = {};
      const text = readFileSync(outputFile, 'utf8');
      for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1] as string] = m[3] as string;
      resolveRun({ code, signal, output, outputs, outputFile, summary: readFileSync(summaryFile, 'utf8') });
    }),
  );
  return { child, done, output: () => output };
}

/**
 * Steps run as GitHub runs jobs: each the bundled action in a fresh working directory, with its
 * own GITHUB_RUN_ID and an empty ROLLGATE_STATE_DIR. They share only what a team shares: the
 * rollout store (a file store on a shared path, fresh per scenario) and the deployment ledger.
 */
export class SeparateJobs {
  /** The shared store of the current scenario. */
  store = '';
  private job = 0;

  /** `root()`: the directory jobs, stores and the ledger live under (known once the stack is up). */
  constructor(
    private readonly root: () => string,
    private runId: number,
  ) {}

  /** A fresh shared store: the scenario starts with no rollout on record. */
  freshStore(name: string): void {
    this.store = join(this.root(), 'stores', name);
    mkdirSync(this.store, { recursive: true });
  }

  /** Starts one step as a job of its own; `run` names the workflow run (a re-run keeps it). */
  start(action: string, inputs: Record<string, string>, run = String(++this.runId)): ReturnType<typeof startBundle> {
    const dir = join(this.root(), 'jobs', String(++this.job));
    mkdirSync(dir, { recursive: true });
    const env = { GITHUB_RUN_ID: run, GITHUB_REPOSITORY: 'acme/orders', ROLLGATE_STATE_DIR: join(dir, 'state'), ROLLGATE_LEDGER: join(this.root(), 'ledger.json') };
    return startBundle(action, { store: `file:${this.store}`, ...inputs }, { dir, env, tag: `${action}-${this.job}` });
  }

  /** Runs one step as a job of its own to the end. */
  step(action: string, inputs: Record<string, string>, run?: string): Promise<BundleRun> {
    return this.start(action, inputs, run).done;
  }
}

/** How a fault proxy treats the next request or connection. */
export type FaultMode = 'pass' | 'refuse' | 'hang' | 'error';

/**
 * An HTTP proxy in front of a real server that can be told to fail: refuse connections, hang
 * past the client's timeout, or answer an HTTP error (optionally only for the next `n` requests).
 */
export class HttpFaultProxy {
  mode: FaultMode = 'pass';
  /** When set, this many requests get `mode`, then the proxy passes again. */
  remaining: number | undefined;
  errorStatus = 500;
  errorHeaders: Record<string, string> = {};
  errorBody = '{"status":"error","errorType":"internal","error":"injected fault"}';
  requests = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Fails the next `n` requests (all of them when n is omitted) in `mode`. */
  fail(mode: FaultMode, n?: number): void {
    this.mode = mode;
    this.remaining = n;
  }

  async start(port?: number): Promise<this> {
    this.port = port ?? this.port ?? 0;
    if (!this.port) this.port = await freePort();
    this.server = createHttpServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      // Refusing while listening: reset the connection before any byte is read.
      if (this.current() === 'refuse') s.destroy();
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    return this;
  }

  /** Stops listening and drops every open connection: the next request gets "connection refused". */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }

  private current(): FaultMode {
    return this.remaining === 0 ? 'pass' : this.mode;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const mode = this.current();
    if (this.remaining !== undefined && this.remaining > 0 && mode !== 'pass') this.remaining--;
    switch (mode) {
      case 'hang':
        return; // never answer; the client's timeout must end it
      case 'refuse':
        req.socket.destroy();
        return;
      case 'error':
        res.writeHead(this.errorStatus, { 'content-type': 'application/json', ...this.errorHeaders });
        res.end(this.errorBody);
        return;
      case 'pass': {
        const target = new URL(this.target);
        const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        req.pipe(upstream);
        return;
      }
    }
  }
}

/**
 * A TCP proxy in front of HAProxy's runtime API that can refuse, hang, or answer every command
 * (or only those matching `only`, e.g. the `set` commands) with an error line of HAProxy's kind.
 */
export class AdminFaultProxy {
  mode: FaultMode = 'pass';
  /** Only commands matching this fail; others pass (reads keep working while writes fail). */
  only: RegExp | undefined;
  errorLine = 'No such server.';
  commands: string[] = [];
  port = 0;
  // Half-open: the client ends its side after the command and still reads the answer.
  private server = createTcpServer({ allowHalfOpen: true }, (client) => this.handle(client));
  private readonly sockets = new Set<Socket>();

  constructor(private readonly targetPort: number) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(this.port, '127.0.0.1', r));
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  fail(mode: FaultMode, only?: RegExp): void {
    this.mode = mode;
    this.only = only;
  }

  private handle(client: Socket): void {
    let line = '';
    client.on('error', () => undefined);
    client.on('data', (chunk) => {
      line += chunk.toString();
      if (!line.includes('\n')) return;
      const command = line.trim();
      this.commands.push(command);
      const mode = this.only && !this.only.test(command) ? 'pass' : this.mode;
      switch (mode) {
        case 'refuse':
          client.destroy();
          return;
        case 'hang':
          return;
        case 'error':
          client.end(`${this.errorLine}\n\n`);
          return;
        case 'pass': {
          const upstream = connect({ host: '127.0.0.1', port: this.targetPort }, () => upstream.end(`${command}\n`));
          upstream.on('error', () => client.destroy());
          upstream.pipe(client);
          return;
        }
      }
    });
  }
}

/** Reads the canary's share straight from HAProxy (the source of truth), bypassing any proxy. */
export async function canaryShare(adminPort: number, backend = 'orders'): Promise<number> {
  const answer = await new Promise<string>((done, fail) => {
    let text = '';
    const s = connect({ host: '127.0.0.1', port: adminPort }, () => s.end(`show servers state ${backend}\n`));
    s.on('data', (c) => (text += c.toString()));
    s.on('end', () => done(text));
    s.on('error', fail);
  });
  const weights: Record<string, number> = {};
  for (const line of answer.split('\n')) {
    const f = line.trim().split(/\s+/);
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight …
    if (f.length > 7 && f[1] === backend) weights[f[3] as string] = Number(f[7]);
  }
  const total = (weights.stable ?? 0) + (weights.canary ?? 0);
  return total === 0 ? 0 : Math.round(((weights.canary ?? 0) / total) * 1000) / 10;
}
