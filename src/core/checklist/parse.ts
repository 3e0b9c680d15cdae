import type { ListItem, Nodes, Parent, Root } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { gfm } from 'micromark-extension-gfm';

/** A task-list item in the PR body that carries a `<!-- rollgate:<id> -->` marker. */
export interface TaskItem {
  id: string;
  checked: boolean;
  /** The item's own text (without nested lists), for N/A reasons and rollback points. */
  text: string;
  /** Every link in the item, nested lists included. */
  links: string[];
  /** 1-based line in the PR body. */
  line: number;
}

const MARKER = /<!--\s*rollgate:([a-z0-9][a-z0-9-]*)\s*-->/gi;

/**
 * Reads the checklist from a PR body with a GitHub-flavoured Markdown parser: task items in any
 * list style or depth count; items inside code, HTML comments or block quotes do not.
 */
export function readTaskItems(body: string): Map<string, TaskItem> {
  const tree: Root = fromMarkdown(body.replace(/\r\n?/g, '\n'), { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  const found = new Map<string, TaskItem>();
  const visit = (node: Nodes): void => {
    switch (node.type) {
      // A quoted checklist is someone else's; code shows a checklist; an HTML block is a comment or markup.
      case 'blockquote':
      case 'code':
      case 'html':
        return;
      case 'listItem':
        if (typeof node.checked === 'boolean') readItem(node, found);
        break;
      default:
        break;
    }
    if ('children' in node) for (const child of (node as Parent).children) visit(child as Nodes);
  };
  visit(tree);
  return found;
}

function readItem(item: ListItem, found: Map<string, TaskItem>): void {
  const own = item.children.filter((c) => c.type !== 'list');
  const markers: string[] = [];
  const text: string[] = [];
  const collect = (node: Nodes): void => {
    if (node.type === 'html') {
      for (const m of node.value.matchAll(MARKER)) markers.push((m[1] ?? '').toLowerCase());
      return;
    }
    if (node.type === 'text' || node.type === 'inlineCode') text.push(node.value);
    if (node.type === 'break') text.push(' ');
    if ('children' in node) for (const child of (node as Parent).children) collect(child as Nodes);
  };
  for (const child of own) {
    collect(child as Nodes);
    text.push(' ');
  }
  const links: string[] = [];
  const collectLinks = (node: Nodes): void => {
    if (node.type === 'link') links.push(node.url);
    if (node.type === 'definition') links.push(node.url);
    if ('children' in node) for (const child of (node as Parent).children) collectLinks(child as Nodes);
  };
  collectLinks(item);
  for (const id of markers) {
    // The first occurrence wins: a later copy (say, in a reply template) cannot override it.
    if (found.has(id)) continue;
    found.set(id, {
      id,
      checked: item.checked === true,
      text: text.join('').replace(/\s+/g, ' ').trim(),
      links: links.filter((l) => /^https?:\/\//i.test(l)),
      line: item.position?.start.line ?? 0,
    });
  }
}

/** The reason given in `N/A: <reason>`, or undefined when the item does not say N/A. */
export function notApplicableReason(text: string): string | undefined {
  const match = /(?:^|[\s([])N\/A\b\s*[:：—–-]?\s*(.*)$/i.exec(text);
  if (!match) return undefined;
  return (match[1] ?? '').replace(/[)\]]\s*$/, '').trim();
}

/** The last safe rollback point named in the runbook item (`last safe rollback point: v41`). */
export function lastSafeRollbackPoint(text: string): string | undefined {
  return /last safe rollback(?: point)?\s*(?:is|[:=—–-])?\s*([^\s,;]+)/i.exec(text)?.[1];
}
