import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from './ports.js';

// A stateful stand-in for the few GitHub REST endpoints the GitHub rollout store calls (git refs,
// commits, trees with inline content, and the contents of a file at a commit), answering in the
// documented shapes and status codes: refs that move only by fast-forward unless forced, objects
// named by their real git SHA-1, 409 on an empty repository, 401 for a bad token, 403 for a token
// without `contents: write`. Prism validates the requests but keeps no state; this keeps state.

interface Blob {
  type: 'blob';
  content: Buffer;
}
interface Tree {
  type: 'tree';
  entries: { path: string; mode: string; sha: string }[];
}
interface Commit {
  type: 'commit';
  tree: string;
  parents: string[];
  message: string;
  date: string;
}
type GitObject = Blob | Tree | Commit;

/** One answer the fake gives instead of its own, once, to a request that `matches`. */
export interface InjectedFault {
  matches: (method: string, path: string) => boolean;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Carry the request out first and then answer with the fault: a reply lost on the way back. */
  afterApplying?: boolean;
}

export interface GitDataFakeOptions {
  owner?: string;
  repo?: string;
  /** The token that may write; any other gets 401 Bad credentials. */
  token?: string;
  /** A token that may read but not write (a job without `contents: write`): writes get 403. */
  readOnlyToken?: string;
  /** An empty repository: every git data call answers 409, as on GitHub. */
  empty?: boolean;
}

const BOT = { name: 'github-actions[bot]', email: '41898282+github-actions[bot]@users.noreply.github.com' };

function gitSha(type: string, body: Buffer): string {
  return createHash('sha1')
    .update(Buffer.concat([Buffer.from(`${type} ${body.length}\0`), body]))
    .digest('hex');
}

/** The stateful git data fake, on a free 127.0.0.1 port. */
export class GitDataFake {
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  readonly readOnlyToken: string;
  empty: boolean;
  /** Every request answered, in order. */
  readonly requests: { method: string; path: string; status: number }[] = [];
  readonly faults: InjectedFault[] = [];
  private readonly refs = new Map<string, string>();
  private readonly objects = new Map<string, GitObject>();
  private server!: Server;
  url = '';

  constructor(options: GitDataFakeOptions = {}) {
    this.owner = options.owner ?? 'acme';
    this.repo = options.repo ?? 'orders';
    this.token = options.token ?? 'ghs_fakewritetoken';
    this.readOnlyToken = options.readOnlyToken ?? 'ghs_fakereadtoken';
    this.empty = options.empty ?? false;
  }

  async start(): Promise<this> {
    const port = await freePort();
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => this.answer(req, body, res));
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The commit a ref points at (`refs/...`), if any. */
  refTarget(ref: string): string | undefined {
    return this.refs.get(ref);
  }

  /** Points a ref somewhere by hand (repairs, damaged records). */
  setRef(ref: string, sha: string): void {
    this.refs.set(ref, sha);
  }

  /** The commits from a ref back to the root, newest first: what `git log <ref>` shows. */
  log(ref: string): { sha: string; message: string; parents: string[]; state?: string }[] {
    const out: { sha: string; message: string; parents: string[]; state?: string }[] = [];
    let sha = this.refs.get(ref);
    while (sha) {
      const commit = this.objects.get(sha) as Commit;
      out.push({ sha, message: commit.message, parents: commit.parents, state: this.fileAt(sha, 'state.json')?.toString('utf8') });
      sha = commit.parents[0];
    }
    return out;
  }

  /** Stores a commit whose tree holds `files` directly, as a push would; returns its sha. */
  commitFiles(files: Record<string, string>, parents: string[], message: string): string {
    const entries = Object.entries(files).map(([path, content]) => ({ path, mode: '100644', sha: this.putBlob(Buffer.from(content, 'utf8')) }));
    return this.putCommit(this.putTree(entries), parents, message);
  }

  private answer(req: IncomingMessage, raw: string, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method, path, status });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(body === undefined ? '' : JSON.stringify(body));
    };
    const error = (status: number, message: string, doc: string) => reply(status, { message, documentation_url: `https://docs.github.com/rest/${doc}`, status: String(status) });

    const faultAt = this.faults.findIndex((f) => f.matches(method, path));
    const fault = faultAt >= 0 ? this.faults.splice(faultAt, 1)[0] : undefined;
    if (fault && !fault.afterApplying) return reply(fault.status, fault.body ?? { message: 'Server Error' }, fault.headers);

    const auth = req.headers.authorization?.replace(/^(token|bearer) /i, '');
    if (auth !== this.token && auth !== this.readOnlyToken) return error(401, 'Bad credentials', 'overview/troubleshooting-the-rest-api');
    const prefix = `/repos/${this.owner}/${this.repo}/`;
    if (!path.startsWith(prefix)) return error(404, 'Not Found', 'repos/repos#get-a-repository');
    const rest = path.slice(prefix.length);
    const writes = method !== 'GET';
    if (writes && auth === this.readOnlyToken) return error(403, 'Resource not accessible by integration', 'git/refs');
    if (this.empty) return error(409, 'Git Repository is empty.', 'git/refs');

    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return error(400, 'Problems parsing JSON', 'git');
    }
    const result = this.route(method, rest, url, body);
    if (fault) {
      // The change is made; only the answer is lost.
      this.requests.push({ method, path, status: fault.status });
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers }).end(JSON.stringify(fault.body ?? { message: 'Server Error' }));
      return;
    }
    if ('message' in result) return error(result.status, result.message, result.doc);
    reply(result.status, result.body);
  }

  private route(method: string, rest: string, url: URL, body: Record<string, unknown>): { status: number; body: unknown } | { status: number; message: string; doc: string } {
    const api = `https://api.github.com/repos/${this.owner}/${this.repo}`;
    const refJson = (ref: string) => ({
      ref,
      node_id: `REF_${ref}`,
      url: `${api}/git/${ref}`,
      object: { type: 'commit', sha: this.refs.get(ref)!, url: `${api}/git/commits/${this.refs.get(ref)}` },
    });
    const unprocessable = (message: string, doc: string) => ({ status: 422, message, doc });
    let match: RegExpExecArray | null;

    if (method === 'GET' && (match = /^git\/matching-refs\/(.+)$/.exec(rest))) {
      const prefix = `refs/${decodeURIComponent(match[1]!)}`;
      return {
        status: 200,
        body: [...this.refs.keys()]
          .filter((r) => r.startsWith(prefix))
          .sort()
          .map(refJson),
      };
    }
    if (method === 'GET' && (match = /^contents\/(.+)$/.exec(rest))) {
      const file = decodeURIComponent(match[1]!);
      const at = url.searchParams.get('ref') ?? '';
      const commit = this.objects.get(at)?.type === 'commit' ? at : this.refs.get(`refs/heads/${at}`);
      const content = commit ? this.fileAt(commit, file) : undefined;
      if (!content) return { status: 404, message: 'Not Found', doc: 'repos/contents#get-repository-content' };
      const sha = gitSha('blob', content);
      // GitHub wraps the base64 at 60 characters.
      const base64 = content.toString('base64').replace(/.{60}/g, '$&\n');
      return {
        status: 200,
        body: {
          type: 'file',
          encoding: 'base64',
          size: content.length,
          name: file.split('/').pop(),
          path: file,
          content: base64,
          sha,
          url: `${api}/contents/${file}?ref=${at}`,
          git_url: `${api}/git/blobs/${sha}`,
          html_url: `https://github.com/${this.owner}/${this.repo}/blob/${at}/${file}`,
          download_url: `https://raw.githubusercontent.com/${this.owner}/${this.repo}/${at}/${file}`,
          _links: { self: `${api}/contents/${file}?ref=${at}`, git: `${api}/git/blobs/${sha}`, html: `https://github.com/${this.owner}/${this.repo}/blob/${at}/${file}` },
        },
      };
    }
    if (method === 'POST' && rest === 'git/trees') {
      if (body.base_tree !== undefined) return unprocessable('base_tree is not supported by this fake', 'git/trees#create-a-tree');
      const tree = Array.isArray(body.tree) ? (body.tree as Record<string, unknown>[]) : undefined;
      if (!tree) return unprocessable('Invalid request.\n\n"tree" wasn\'t supplied.', 'git/trees#create-a-tree');
      const entries: Tree['entries'] = [];
      for (const entry of tree) {
        if (typeof entry.path !== 'string' || entry.mode !== '100644' || entry.type !== 'blob') return unprocessable('Invalid tree info', 'git/trees#create-a-tree');
        if (typeof entry.content === 'string') entries.push({ path: entry.path, mode: entry.mode, sha: this.putBlob(Buffer.from(entry.content, 'utf8')) });
        else if (typeof entry.sha === 'string' && this.objects.get(entry.sha)?.type === 'blob') entries.push({ path: entry.path, mode: entry.mode, sha: entry.sha });
        else return unprocessable('Invalid tree info', 'git/trees#create-a-tree');
      }
      const sha = this.putTree(entries);
      return {
        status: 201,
        body: {
          sha,
          url: `${api}/git/trees/${sha}`,
          truncated: false,
          tree: entries.map((e) => ({ ...e, type: 'blob', size: (this.objects.get(e.sha) as Blob).content.length, url: `${api}/git/blobs/${e.sha}` })),
        },
      };
    }
    if (method === 'POST' && rest === 'git/commits') {
      if (typeof body.message !== 'string' || typeof body.tree !== 'string') return unprocessable('Invalid request.', 'git/commits#create-a-commit');
      if (this.objects.get(body.tree)?.type !== 'tree') return unprocessable('Tree SHA does not exist', 'git/commits#create-a-commit');
      const parents = (body.parents ?? []) as unknown[];
      if (!Array.isArray(parents) || parents.some((p) => typeof p !== 'string' || this.objects.get(p)?.type !== 'commit'))
        return unprocessable('Parent SHA does not exist or is not a commit object', 'git/commits#create-a-commit');
      const sha = this.putCommit(body.tree, parents as string[], body.message);
      const commit = this.objects.get(sha) as Commit;
      const who = { ...BOT, date: commit.date };
      return {
        status: 201,
        body: {
          sha,
          node_id: `C_${sha}`,
          url: `${api}/git/commits/${sha}`,
          html_url: `https://github.com/${this.owner}/${this.repo}/commit/${sha}`,
          author: who,
          committer: who,
          message: commit.message,
          tree: { sha: commit.tree, url: `${api}/git/trees/${commit.tree}` },
          parents: commit.parents.map((p) => ({ sha: p, url: `${api}/git/commits/${p}`, html_url: `https://github.com/${this.owner}/${this.repo}/commit/${p}` })),
          verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
        },
      };
    }
    if (method === 'POST' && rest === 'git/refs') {
      const ref = body.ref;
      if (typeof ref !== 'string' || !ref.startsWith('refs/') || ref.split('/').length < 3)
        return unprocessable("Reference name must start with 'refs/' and have at least two slashes.", 'git/refs#create-a-reference');
      if (typeof body.sha !== 'string' || !this.objects.has(body.sha)) return unprocessable('Object does not exist', 'git/refs#create-a-reference');
      if (this.refs.has(ref)) return unprocessable('Reference already exists', 'git/refs#create-a-reference');
      this.refs.set(ref, body.sha);
      return { status: 201, body: refJson(ref) };
    }
    if (method === 'PATCH' && (match = /^git\/refs\/(.+)$/.exec(rest))) {
      const ref = `refs/${decodeURIComponent(match[1]!)}`;
      const current = this.refs.get(ref);
      if (current === undefined) return unprocessable('Reference does not exist', 'git/refs#update-a-reference');
      if (typeof body.sha !== 'string' || !this.objects.has(body.sha)) return unprocessable('Object does not exist', 'git/refs#update-a-reference');
      if (body.force !== true && !this.isAncestor(current, body.sha)) return unprocessable('Update is not a fast forward', 'git/refs#update-a-reference');
      this.refs.set(ref, body.sha);
      return { status: 200, body: refJson(ref) };
    }
    return { status: 404, message: 'Not Found', doc: 'rest' };
  }

  private isAncestor(ancestor: string, of: string): boolean {
    const pending = [of];
    const seen = new Set<string>();
    while (pending.length) {
      const sha = pending.pop()!;
      if (sha === ancestor) return true;
      if (seen.has(sha)) continue;
      seen.add(sha);
      const object = this.objects.get(sha);
      if (object?.type === 'commit') pending.push(...object.parents);
    }
    return false;
  }

  private fileAt(commitSha: string, path: string): Buffer | undefined {
    const commit = this.objects.get(commitSha);
    if (commit?.type !== 'commit') return undefined;
    const tree = this.objects.get(commit.tree) as Tree;
    const entry = tree.entries.find((e) => e.path === path);
    return entry && (this.objects.get(entry.sha) as Blob).content;
  }

  private putBlob(content: Buffer): string {
    const sha = gitSha('blob', content);
    this.objects.set(sha, { type: 'blob', content });
    return sha;
  }

  private putTree(entries: Tree['entries']): string {
    const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const body = Buffer.concat(sorted.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.path}\0`), Buffer.from(e.sha, 'hex')])));
    const sha = gitSha('tree', body);
    this.objects.set(sha, { type: 'tree', entries: sorted });
    return sha;
  }

  private putCommit(tree: string, parents: string[], message: string): string {
    // Whole seconds, as git keeps them: two identical commits made in the same second are one object.
    const seconds = Math.floor(Date.now() / 1000);
    const signature = `${BOT.name} <${BOT.email}> ${seconds} +0000`;
    const text = [`tree ${tree}`, ...parents.map((p) => `parent ${p}`), `author ${signature}`, `committer ${signature}`, '', message].join('\n');
    const sha = gitSha('commit', Buffer.from(text, 'utf8'));
    this.objects.set(sha, { type: 'commit', tree, parents, message, date: new Date(seconds * 1000).toISOString().replace('.000', '') });
    return sha;
  }
}
