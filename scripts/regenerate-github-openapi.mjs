#!/usr/bin/env node
// Regenerates test/fixtures/github/rest-api.openapi.json: GitHub's published REST API
// description (npm @octokit/openapi) trimmed to the paths rollgate calls, with every component
// they reference. The full package is ~400 MB, so it is fetched into a temp dir with `npm pack`
// only when regenerating and is never a dependency.
//
//   node scripts/regenerate-github-openapi.mjs [version]     (default: the version below)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@octokit/openapi';
const version = process.argv[2] ?? '23.0.2';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test/fixtures/github/rest-api.openapi.json');

// The operations rollgate's GitHub client makes; nothing else is kept.
const KEEP = {
  '/repos/{owner}/{repo}/deployments': ['get', 'post'],
  '/repos/{owner}/{repo}/deployments/{deployment_id}': ['get'],
  '/repos/{owner}/{repo}/deployments/{deployment_id}/statuses': ['get', 'post'],
  // The GitHub rollout store: a ref per record, a commit per write.
  '/repos/{owner}/{repo}/git/matching-refs/{ref}': ['get'],
  '/repos/{owner}/{repo}/contents/{path}': ['get'],
  '/repos/{owner}/{repo}/git/trees': ['post'],
  '/repos/{owner}/{repo}/git/commits': ['post'],
  '/repos/{owner}/{repo}/git/refs': ['post'],
  '/repos/{owner}/{repo}/git/refs/{ref}': ['patch'],
};

const work = mkdtempSync(join(tmpdir(), 'rollgate-openapi-'));
try {
  execFileSync('npm', ['pack', `${PACKAGE}@${version}`, '--silent'], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = execFileSync('sh', ['-c', 'ls *.tgz'], { cwd: work }).toString().trim();
  execFileSync('tar', ['xzf', tarball, 'package/generated/api.github.com.json', 'package/package.json'], { cwd: work });
  const spec = JSON.parse(readFileSync(join(work, 'package/generated/api.github.com.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(work, 'package/package.json'), 'utf8'));

  const paths = {};
  for (const [path, methods] of Object.entries(KEEP)) {
    const item = spec.paths[path];
    if (!item) throw new Error(`${PACKAGE}@${version} has no path ${path}`);
    paths[path] = {};
    if (item.parameters) paths[path].parameters = item.parameters;
    for (const m of methods) {
      if (!item[m]) throw new Error(`${PACKAGE}@${version} has no ${m.toUpperCase()} ${path}`);
      paths[path][m] = item[m];
    }
  }

  // Follow every "#/components/<kind>/<name>" reference until the set is closed.
  const components = {};
  const pending = [paths];
  const seen = new Set();
  while (pending.length) {
    const node = pending.pop();
    if (Array.isArray(node)) pending.push(...node);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/') && !seen.has(v)) {
          seen.add(v);
          const [, , kind, name] = v.split('/');
          const target = spec.components[kind]?.[name];
          if (!target) throw new Error(`unresolved reference ${v}`);
          (components[kind] ??= {})[name] = target;
          pending.push(target);
        } else pending.push(v);
      }
    }
  }
  for (const kind of Object.keys(components)) components[kind] = Object.fromEntries(Object.entries(components[kind]).sort(([a], [b]) => a.localeCompare(b)));

  const trimmed = {
    openapi: spec.openapi,
    info: {
      ...spec.info,
      'x-rollgate-source': `${PACKAGE}@${pkg.version} generated/api.github.com.json, trimmed by scripts/regenerate-github-openapi.mjs`,
    },
    servers: spec.servers,
    paths,
    components,
  };
  writeFileSync(out, `${JSON.stringify(trimmed, null, 2)}\n`);
  process.stdout.write(`wrote ${out} from ${PACKAGE}@${pkg.version} (${Object.keys(paths).length} paths, ${seen.size} components)\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
