import { UserError } from './errors.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9_-]*)\s*\}\}/g;

/** Replaces `{{name}}` placeholders; an unknown placeholder is an error naming the template's field. */
export function renderTemplate(template: string, vars: Record<string, string | number | undefined>, field = 'template'): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      const known = Object.keys(vars).filter((k) => vars[k] !== undefined);
      throw new UserError(`${field}: unknown placeholder {{${name}}} (known here: ${known.map((k) => `{{${k}}}`).join(', ') || 'none'})`);
    }
    return String(value);
  });
}

/**
 * Splits a command template into an argument vector the way a shell splits words (quotes,
 * backslashes), then fills placeholders inside each word. Values are never re-split or
 * interpreted, so a version such as `v1; rm -rf /` stays one harmless argument.
 */
export function commandFromTemplate(template: string, vars: Record<string, string | number | undefined>, field = 'command'): string[] {
  return splitWords(template, field).map((word) => renderTemplate(word, vars, field));
}

/** Shell-like word splitting without expansion: single quotes, double quotes, backslash escapes. */
export function splitWords(text: string, field = 'command'): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < text.length && ['"', '\\'].includes(text[i + 1] as string)) current += text[++i];
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new UserError(`${field}: unclosed ${quote} quote in ${JSON.stringify(text)}`);
  if (inWord) words.push(current);
  if (words.length === 0) throw new UserError(`${field}: empty command`);
  return words;
}
