import type { Finding, LintReport } from '../migrations/lint.js';
import type { ItemResult, ItemState } from './evaluate.js';

const STATE_LABEL: Record<ItemState, string> = {
  ticked: '✅ ticked',
  'not-applicable': '➖ N/A',
  'not-required': '➖ not required',
  unticked: '❌ not ticked',
  missing: '❌ missing',
  contradicted: '❌ contradicted by evidence',
};

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The Markdown shown in the job summary and the PR comment: every item, every finding. */
export function renderChecklistReport(passed: boolean, items: readonly ItemResult[], lint: LintReport): string {
  const lines: string[] = [];
  lines.push(`### rollgate pre-deploy checklist: ${passed ? '✅ pass' : '❌ fail'}`, '');
  lines.push('| item | state | detail |', '| --- | --- | --- |');
  for (const item of items) lines.push(`| \`${item.id}\` ${cell(item.title)} | ${STATE_LABEL[item.state]} | ${cell(item.reason)} |`);
  lines.push('');
  if (lint.irreversible) {
    lines.push('**Irreversible:** this PR contains contract-phase migrations; after it ships, rollback can no longer redeploy the previous version.', '');
    for (const c of lint.contracts) lines.push(`- \`${c.file}:${c.line}\`: ${cell(c.reason)}`);
    lines.push('');
  }
  if (lint.files.length === 0) lines.push('No migrations linted.');
  else {
    const errors = lint.findings.filter((f) => f.severity === 'error').length;
    lines.push(`Migrations linted: ${lint.files.length}; ${errors} error(s), ${lint.findings.length - errors} warning(s).`);
  }
  if (lint.findings.length > 0) {
    lines.push('', '| file | line | rule | severity | message |', '| --- | --- | --- | --- | --- |');
    for (const f of lint.findings) lines.push(`| \`${cell(f.file)}\` | ${f.line} | \`${f.rule}\` | ${f.severity} | ${cell(stripRule(f))} |`);
  }
  return lines.join('\n');
}

function stripRule(f: Finding): string {
  return f.message.replace(/ \[[a-z-]+\]$/, '');
}
