import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MermaidParse {
  ok: boolean;
  type?: string;
  error?: string;
}

/** Parses each diagram with the real Mermaid parser (in a child process) and says which parse. */
export function parseMermaid(diagrams: string[]): Promise<MermaidParse[]> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'mermaid-parse.mjs');
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [script], { timeout: 60_000, maxBuffer: 10_000_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`mermaid parser failed: ${err.message} ${stderr}`));
      resolve(JSON.parse(stdout) as MermaidParse[]);
    });
    child.stdin?.end(JSON.stringify(diagrams));
  });
}
