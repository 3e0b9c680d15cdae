// Cold start of the bundled metrics-gate: from `node dist/metrics-gate/index.js` to its first
// query reaching the metrics backend. Also prints every bundle's size.
// Run: npx tsx bench/metrics-gate-coldstart.ts [runs]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { tempDir } from '../harness/process.js';

const runs = Number(process.argv[2] ?? 7);
const bundle = resolve('dist/metrics-gate/index.js');
if (!existsSync(bundle)) throw new Error('dist/metrics-gate/index.js is missing: run node scripts/build.mjs metrics-gate');

let firstQuery: (() => void) | undefined;
// Answers in Prometheus' API format; only the arrival time of the first query matters here.
const server = createServer((req, res) => {
  if (req.url?.startsWith('/api/v1/query')) firstQuery?.();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, '0'] }] } }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const cwd = tempDir('rollgate-bench-');

const samples: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = process.hrtime.bigint();
  const reached = new Promise<number>((r) => (firstQuery = () => r(Number(process.hrtime.bigint() - started) / 1e6)));
  const child = spawn(process.execPath, [bundle], {
    cwd: cwd.path,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, 'INPUT_PROMETHEUS-URL': url, 'INPUT_ERROR-RATE-THRESHOLD': '1', INPUT_INTERVAL: '100ms', INPUT_BAKE: '100ms' },
  });
  const ms = await reached;
  firstQuery = undefined;
  await new Promise((r) => child.once('exit', r));
  samples.push(ms);
}
// CPU time is far less sensitive than wall time to other work on a shared machine.
const cpu: number[] = [];
if (existsSync('/usr/bin/time')) {
  for (let i = 0; i < runs; i++) {
    const child = spawn('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, bundle], {
      cwd: cwd.path,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, 'INPUT_PROMETHEUS-URL': url, 'INPUT_ERROR-RATE-THRESHOLD': '1', INPUT_INTERVAL: '100ms', INPUT_BAKE: '100ms' },
    });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    await new Promise((r) => child.once('exit', r));
    const m = /cpu ([\d.]+) ([\d.]+)/.exec(err);
    if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
  }
  cpu.sort((a, b) => a - b);
}
server.close();
cwd.remove();

// A bare `node` start on the same machine, to tell the bundle's own cost from the machine's load.
const bare: number[] = [];
for (let i = 0; i < runs; i++) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  bare.push(Number(process.hrtime.bigint() - started) / 1e6);
}
bare.sort((a, b) => a - b);
const bareMedian = bare[Math.floor(bare.length / 2)] as number;

samples.sort((a, b) => a - b);
const median = samples[Math.floor(samples.length / 2)] as number;
// The first measurement waits one interval (100 ms here) by design: subtract it to get start-up.
console.log(
  `cold start to first query (minus the 100 ms first interval), ${runs} runs: median ${(median - 100).toFixed(0)} ms, min ${((samples[0] as number) - 100).toFixed(0)} ms, max ${((samples.at(-1) as number) - 100).toFixed(0)} ms (target ≤ 300 ms)`,
);
if (cpu.length) console.log(`CPU time (user + sys) of a whole one-measurement run: median ${(cpu[Math.floor(cpu.length / 2)] as number).toFixed(0)} ms`);
console.log(`bare node start and exit on this machine: median ${bareMedian.toFixed(0)} ms, so the bundle itself costs about ${(median - 100 - bareMedian).toFixed(0)} ms`);

console.log(
  `machine: ${cpus().length} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
console.log('bundle sizes:');
for (const name of readdirSync('dist').sort()) {
  const file = join('dist', name, 'index.js');
  if (existsSync(file)) console.log(`  dist/${name}/index.js  ${(statSync(file).size / 1024 / 1024).toFixed(2)} MiB`);
}
