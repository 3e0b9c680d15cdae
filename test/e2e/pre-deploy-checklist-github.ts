import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An issue comment as GitHub's REST API returns it (the fields rollgate and Octokit read). */
export interface GitHubComment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  issue_url: string;
  body: string;
  user: { login: string; id: number; type: string };
  created_at: string;
  updated_at: string;
  author_association: string;
}

/**
 * A local stand-in for the three issue-comment endpoints of GitHub's REST API, answering in
 * the documented format (status codes, Link pagination, auth errors) and keeping state, so a
 * test can observe that a comment was updated in place rather than posted again.
 */
export interface FakeGitHub {
  url: string;
  comments: GitHubComment[];
  requests: { method: string; path: string }[];
  stop(): Promise<void>;
}

const OWNER = 'acme';
const REPO = 'orders';

/** Starts the fake API on a free 127.0.0.1 port; `token` is the only credential it accepts. */
export async function startFakeGitHub(token: string, issue: number, existing: string[] = []): Promise<FakeGitHub> {
  let nextId = 1000;
  const comments: GitHubComment[] = [];
  const requests: { method: string; path: string }[] = [];
  const server: Server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const make = (body: string, login = 'someone'): GitHubComment => {
    const id = nextId++;
    const now = new Date().toISOString();
    return {
      id,
      node_id: `IC_${id}`,
      url: `${url}/repos/${OWNER}/${REPO}/issues/comments/${id}`,
      html_url: `https://github.com/${OWNER}/${REPO}/pull/${issue}#issuecomment-${id}`,
      issue_url: `${url}/repos/${OWNER}/${REPO}/issues/${issue}`,
      body,
      user: { login, id: 1, type: login.endsWith('[bot]') ? 'Bot' : 'User' },
      created_at: now,
      updated_at: now,
      author_association: 'MEMBER',
    };
  };
  for (const body of existing) comments.push(make(body));

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  async function readJson(req: IncomingMessage): Promise<{ body?: unknown }> {
    let text = '';
    for await (const chunk of req) text += chunk;
    try {
      return JSON.parse(text) as { body?: unknown };
    } catch {
      return {};
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    requests.push({ method: req.method ?? '', path: u.pathname });
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
      send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      return;
    }
    const list = new RegExp(`^/repos/${OWNER}/${REPO}/issues/(\\d+)/comments$`).exec(u.pathname);
    const one = new RegExp(`^/repos/${OWNER}/${REPO}/issues/comments/(\\d+)$`).exec(u.pathname);
    if (list && Number(list[1]) !== issue) {
      send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
      return;
    }
    if (list && req.method === 'GET') {
      const perPage = Math.min(100, Number(u.searchParams.get('per_page') ?? 30));
      const page = Number(u.searchParams.get('page') ?? 1);
      const slice = comments.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = {};
      if (page * perPage < comments.length) headers.link = `<${url}${u.pathname}?per_page=${perPage}&page=${page + 1}>; rel="next"`;
      send(res, 200, slice, headers);
      return;
    }
    if (list && req.method === 'POST') {
      const { body } = await readJson(req);
      if (typeof body !== 'string') {
        send(res, 422, { message: 'Invalid request.\n\n"body" wasn\'t supplied.', status: '422' });
        return;
      }
      const comment = make(body, 'github-actions[bot]');
      comments.push(comment);
      send(res, 201, comment, { location: comment.url });
      return;
    }
    if (one && req.method === 'PATCH') {
      const comment = comments.find((c) => c.id === Number(one[1]));
      const { body } = await readJson(req);
      if (!comment) return send(res, 404, { message: 'Not Found', status: '404' });
      if (typeof body !== 'string') return send(res, 422, { message: 'Invalid request.', status: '422' });
      comment.body = body;
      comment.updated_at = new Date().toISOString();
      send(res, 200, comment);
      return;
    }
    send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  }

  return {
    url,
    comments,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const FAKE_REPOSITORY = `${OWNER}/${REPO}`;
