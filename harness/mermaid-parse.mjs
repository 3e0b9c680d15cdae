// Parses Mermaid diagrams with Mermaid itself (the renderer GitHub uses for job summaries), in a
// DOM from jsdom, in its own process: jest's sandbox and a jsdom window do not mix.
// stdin: a JSON array of diagram texts; stdout: a JSON array of { ok, type?, error? }.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

let input = '';
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (err) {
    results.push({ ok: false, error: String(err?.message ?? err) });
  }
}
process.stdout.write(JSON.stringify(results));
