// Bundles every action entry (and the CLI and umbrella dispatcher) into dist/<name>/index.js
// with ncc, regenerates the umbrella action.yml's inputs from the six actions, and the plan's
// JSON Schema (schema/rollout.schema.json) and reference (docs/plan.md) from its zod schema.
// `node scripts/build.mjs [name ...]` builds only the named bundles; `--umbrella` only the generated files.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { parse, stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const ncc = require('@vercel/ncc');

// src/index/<name>.ts is what the runner starts: it calls run() from src/actions/<name>.ts, the
// module @github/local-action imports.
const entries = {
  ...Object.fromEntries(
    readdirSync(join(root, 'src/index'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => [f.replace(/\.ts$/, ''), join(root, 'src/index', f)]),
  ),
  cli: join(root, 'src/cli.ts'),
};

// ncc's ESM output still refers to __dirname/__filename in places (and libpg-query needs
// them to find its .wasm): define them from import.meta.url.
const PRELUDE =
  "import { fileURLToPath as __rollgateFileURLToPath } from 'node:url';\n" +
  "import { dirname as __rollgateDirname } from 'node:path';\n" +
  'const __filename = __rollgateFileURLToPath(import.meta.url);\n' +
  'const __dirname = __rollgateDirname(__filename);\n';

// `--umbrella` regenerates only the umbrella action.yml, without bundling.
const umbrellaOnly = process.argv.includes('--umbrella');
const wanted = umbrellaOnly ? ['--umbrella'] : process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!umbrellaOnly && process.argv[2] !== '--child')
  for (const name of wanted) if (!(name in entries)) throw new Error(`unknown bundle ${name}; known: ${Object.keys(entries).join(', ')}`);

// Each bundle is built in a process of its own: ncc's compiler keeps what it loaded, and
// eight bundles in one process run out of heap.
const childFlag = '--child';
if (process.argv[2] === childFlag) {
  await bundle(process.argv[3], entries[process.argv[3]]);
  process.exit(0);
}

async function bundle(name, entry) {
  const started = Date.now();
  const { code, assets } = await ncc(entry, { minify: false, sourceMap: false, quiet: true, target: 'es2022', cache: false, license: 'licenses.txt' });
  const out = join(root, 'dist', name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const body = code.includes('__dirname') || code.includes('__filename') ? PRELUDE + code : code;
  writeFileSync(join(out, 'index.js'), body);
  for (const [file, asset] of Object.entries(assets ?? {})) {
    if (file === 'package.json') continue;
    mkdirSync(dirname(join(out, file)), { recursive: true });
    writeFileSync(join(out, file), asset.source);
  }
  if (code.includes('libpg-query')) {
    const wasm = join(root, 'node_modules/libpg-query/wasm/libpg-query.wasm');
    if (existsSync(wasm)) copyFileSync(wasm, join(out, 'libpg-query.wasm'));
  }
  const kb = Math.round(Buffer.byteLength(body) / 1024);
  console.log(`dist/${name}/index.js  ${kb} KiB  (${Date.now() - started} ms)`);
}

const names = umbrellaOnly ? [] : Object.keys(entries).filter((name) => !wanted.length || wanted.includes(name));
const queue = [...names];
const failures = [];
const worker = async () => {
  for (let name = queue.shift(); name; name = queue.shift()) {
    const code = await new Promise((resolve) => {
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), childFlag, name], { stdio: 'inherit' });
      child.on('exit', (status) => resolve(status ?? 1));
    });
    if (code !== 0) failures.push(name);
  }
};
await Promise.all([worker(), worker()]);
if (failures.length) {
  console.error(`build failed for: ${failures.join(', ')}`);
  process.exit(1);
}

// The umbrella action declares every input of every action, so `with:` is validated. An input
// gets a default where every action that declares it agrees on one; the chosen action's other
// literal defaults are applied by dist/main at run time (src/core/action-metadata.ts).
if (!wanted.length || umbrellaOnly) {
  const inputs = {
    action: {
      description: `Which action to run: ${Object.keys(entries)
        .filter((n) => !['main', 'cli'].includes(n))
        .join(' | ')}`,
      required: true,
    },
  };
  const outputs = {};
  const defaults = {};
  for (const name of readdirSync(join(root, 'actions')).sort()) {
    const file = join(root, 'actions', name, 'action.yml');
    if (!existsSync(file)) continue;
    const spec = parse(readFileSync(file, 'utf8'));
    for (const [key, value] of Object.entries(spec.inputs ?? {})) {
      if (!inputs[key]) inputs[key] = { description: `${value.description ?? ''} (${name})`.trim() };
      else inputs[key].description = `${inputs[key].description.replace(/\)$/, '')}, ${name})`;
      (defaults[key] ??= []).push(value.default === undefined ? undefined : String(value.default));
    }
    for (const [key, value] of Object.entries(spec.outputs ?? {})) {
      if (!outputs[key]) outputs[key] = { description: `${value.description ?? ''} (${name})`.trim() };
      else outputs[key].description = `${outputs[key].description.replace(/\)$/, '')}, ${name})`;
    }
  }
  for (const [key, values] of Object.entries(defaults)) {
    const distinct = [...new Set(values)];
    if (distinct.length === 1 && distinct[0] !== undefined) inputs[key].default = distinct[0];
    // Only the runner can evaluate an expression: dist/main cannot apply it for one action only.
    else if (distinct.some((v) => v?.includes('${{')))
      throw new Error(`input ${key}: actions disagree on its default (${distinct.join(' | ')}), and an expression default cannot be applied at run time`);
  }
  const umbrella = {
    name: 'rollgate',
    description: 'Gated canary deployments with automatic rollback: one entry for all six rollgate actions',
    author: 'rollgate',
    branding: { icon: 'shield', color: 'green' },
    inputs,
    outputs,
    runs: { using: 'node24', main: 'dist/main/index.js' },
  };
  writeFileSync(join(root, 'action.yml'), `# Generated by scripts/build.mjs from actions/*/action.yml: edit those instead.\n${stringify(umbrella, { lineWidth: 0 })}`);
  console.log('action.yml (umbrella) regenerated');
  // The plan's JSON Schema and reference page come from src/core/plan/schema.ts.
  const generated = await new Promise((resolve) => {
    const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/plan-reference.ts')], { stdio: 'inherit' });
    child.on('exit', (status) => resolve(status ?? 1));
  });
  if (generated !== 0) process.exit(1);
}
