import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { planJsonSchema } from '../../src/core/plan/json-schema.js';

// What a reader copies from the README and docs/ must work: every YAML snippet parses, every
// snippet made of plan sections is a valid plan (the schema editors use), and every link to a
// file of this repository points to one that exists.
const ROOT = process.cwd();
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Snippet {
  where: string;
  text: string;
}

function yamlSnippets(): Snippet[] {
  const snippets: Snippet[] = [];
  for (const page of PAGES) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const m of text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) snippets.push({ where: `${page}:${text.slice(0, m.index).split('\n').length}`, text: m[1]! });
  }
  return snippets;
}

const schema = planJsonSchema();
const PLAN_KEYS = Object.keys((schema as { properties: Record<string, unknown> }).properties);
const ajv = new Ajv({ allErrors: true, strict: false });
const validatePlan = ajv.compile(schema);

/** A snippet whose top-level keys are all plan sections is (part of) a plan; `steps:` alone could be a workflow's. */
function asPlan(value: unknown): Record<string, unknown> | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (!keys.length || !keys.every((k) => PLAN_KEYS.includes(k))) return undefined;
  if (keys.length === 1 && keys[0] === 'steps' && !Array.isArray((value as { steps: unknown }).steps)) return undefined;
  return { service: 'orders', environment: 'production', ...(value as Record<string, unknown>) };
}

/** `...` stands for "more of the same" in a snippet: such a snippet is shown, not meant to be copied whole. */
const elided = (text: string) => /(^|\s)\.\.\.(\s|$)|…/.test(text);

describe('YAML in the README and docs/', () => {
  const snippets = yamlSnippets();

  it('finds the snippets (the README has a plan and a workflow)', () => {
    expect(snippets.length).toBeGreaterThan(20);
  });

  it.each(snippets.map((s) => [s.where, s]))('%s parses as YAML', (_where, snippet) => {
    const errors = parseAllDocuments((snippet as Snippet).text).flatMap((d) => d.errors.map((e) => e.message.split('\n')[0]));
    expect(errors).toEqual([]);
  });

  it.each(snippets.map((s) => [s.where, s]))('%s, if it is plan sections, is a valid plan', (_where, snippet) => {
    const { text } = snippet as Snippet;
    const documents = parseAllDocuments(text);
    if (documents.some((d) => d.errors.length) || elided(text)) return;
    for (const document of documents) {
      const plan = asPlan(document.toJS());
      if (!plan) continue;
      validatePlan(plan);
      expect((validatePlan.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`)).toEqual([]);
    }
  });

  it('a complete plan in the docs names the schema for editors', () => {
    const complete = snippets.filter((s) => /^service:/m.test(s.text) && /^environment:/m.test(s.text));
    expect(complete.length).toBeGreaterThan(0);
    for (const s of complete) expect(`${s.where}: ${s.text.split('\n')[0]}`).toMatch(/# yaml-language-server: \$schema=/);
  });
});

describe('the plan schema', () => {
  it('schema/rollout.schema.json is what the zod schema generates (npm run build regenerates it)', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'schema/rollout.schema.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(schema)));
  });

  it('rejects what the actions reject: an unknown key, a bare-number duration, a wrong provider', () => {
    const base = { service: 'orders', environment: 'production' };
    expect(validatePlan({ ...base, analysis: { checks: [{ name: 'x', query: 'q', max: 1 }], bake: '5m' } })).toBe(true);
    expect(validatePlan({ ...base, analysis: { checks: [{ name: 'x', query: 'q', max: 1 }], bake: 300 } })).toBe(false);
    expect(validatePlan({ ...base, trafic: {} })).toBe(false);
    expect(validatePlan({ ...base, traffic: { provider: 'haproxi', admin: 'a', backend: 'b' } })).toBe(false);
  });
});

describe('links in the README and docs/', () => {
  it('every relative link points to a file or folder that exists', () => {
    const missing: string[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(ROOT, page), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (!target || /^[a-z]+:/i.test(target)) continue;
        if (!existsSync(join(ROOT, dirname(page), decodeURIComponent(target)))) missing.push(`${page}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
