import { COMMENT_MARKER, octokitComments, upsertChecklistComment } from '../../src/core/checklist/comment.js';
import { ProviderError } from '../../src/core/errors.js';
import { startFakeGitHub, type FakeGitHub } from '../e2e/pre-deploy-checklist-github.js';

describe('the checklist PR comment', () => {
  let github: FakeGitHub;
  const pr = () => ({ owner: 'acme', repo: 'orders', number: 7, baseUrl: github.url });

  afterEach(async () => {
    await github?.stop();
  });

  test('is created once, then updated in place on every run, even behind 150 other comments', async () => {
    github = await startFakeGitHub(
      't0ken',
      7,
      Array.from({ length: 150 }, (_, i) => `review comment ${i}`),
    );
    const comments = octokitComments('t0ken', pr());
    const first = await upsertChecklistComment(comments, '### checklist: fail');
    expect(first.action).toBe('created');
    const second = await upsertChecklistComment(comments, '### checklist: pass');
    expect(second).toEqual({ action: 'updated', id: first.id });
    const third = await upsertChecklistComment(comments, '### checklist: pass');
    expect(third).toEqual({ action: 'unchanged', id: first.id });

    const ours = github.comments.filter((c) => c.body.includes(COMMENT_MARKER));
    expect(ours).toHaveLength(1);
    expect(ours[0]?.body).toBe(`${COMMENT_MARKER}\n### checklist: pass`);
    expect(github.comments).toHaveLength(151);
  });

  test('a GitHub error becomes a ProviderError naming the call and the status', async () => {
    github = await startFakeGitHub('right-token', 7);
    const comments = octokitComments('wrong-token', pr());
    const attempt = upsertChecklistComment(comments, 'x');
    await expect(attempt).rejects.toThrow(ProviderError);
    await expect(upsertChecklistComment(comments, 'x')).rejects.toThrow(/listing PR comments failed \(HTTP 401\)/);
  });
});
