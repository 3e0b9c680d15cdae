import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sendRequests } from '../../harness/load.js';
import { startNginx, type RunningNginx } from '../../harness/nginx.js';
import { requireBinary, tempDir } from '../../harness/process.js';
import { startSampleService, type SampleService } from '../../harness/sample-service.js';

// The nginx recipe of docs/traffic.md (docs/nginx/*.sh as a `command` traffic provider), driven
// by the rollgate CLI against a real nginx, with the split measured on requests through it.
const ROOT = process.cwd();
const HAVE = requireBinary('/usr/sbin/nginx', 'nginx');
const maybe = HAVE ? describe : describe.skip;

maybe('nginx without Kubernetes: the command-provider recipe', () => {
  const work = tempDir('rollgate-nginx-');
  let stable: SampleService;
  let canary: SampleService;
  let nginx: RunningNginx;
  let env: NodeJS.ProcessEnv;
  const upstreamFile = join(work.path, 'orders.conf');

  beforeAll(async () => {
    stable = await startSampleService({ track: 'stable', version: 'v1' });
    canary = await startSampleService({ track: 'canary', version: 'v2' });
    writeFileSync(upstreamFile, `upstream orders {\n  server 127.0.0.1:${stable.port} weight=100;\n  server 127.0.0.1:${canary.port} down;\n}\n`);
    nginx = await startNginx({ dir: work.path, upstream: 'orders', upstreamFile });
    writeFileSync(
      join(work.path, 'rollout.yml'),
      [
        'service: orders',
        'environment: production',
        'traffic:',
        '  provider: command',
        `  setWeight: ${ROOT}/docs/nginx/set-weight.sh {{weight}}`,
        `  getWeight: ${ROOT}/docs/nginx/get-weight.sh`,
        'deploy: { command: "true" }',
        'steps: [10, 50, 100]',
        '',
      ].join('\n'),
    );
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NGINX_UPSTREAM_FILE: upstreamFile,
      NGINX_STABLE: `127.0.0.1:${stable.port}`,
      NGINX_CANARY: `127.0.0.1:${canary.port}`,
      NGINX_PID_FILE: nginx.pidFile,
      NGINX_PREFIX: nginx.prefix,
      NGINX_CONF: nginx.conf,
      ROLLGATE_STATE_DIR: join(work.path, 'state'),
    };
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await stable?.close();
    await canary?.close();
    work.remove();
  });

  function rollgate(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/rollgate.js'), ...args, '--plan', 'rollout.yml', '--records', 'none'], {
      cwd: work.path,
      env: { ...env, ...extraEnv },
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  }

  it('deploy-canary sends the canary exactly its share through nginx, and rollback takes it all back', async () => {
    const deployed = rollgate(['deploy-canary', '--version', 'v2', '--weight', '10']);
    expect(deployed).toMatchObject({ status: 0 });
    expect(readFileSync(upstreamFile, 'utf8')).toContain(`server 127.0.0.1:${canary.port} weight=10;`);
    const during = await sendRequests(nginx.url + '/orders', 200);
    expect(during.byTrack).toEqual({ stable: 180, canary: 20 });

    const rolledBack = rollgate(['rollback', '--reason', 'test']);
    expect(rolledBack.status).toBe(0);
    expect(rolledBack.out).toMatch(/output rolled-back=true/);
    const after = await sendRequests(nginx.url + '/orders', 200);
    expect(after.byTrack).toEqual({ stable: 200 });
  }, 180_000);

  it('a configuration nginx rejects is never half-applied: the previous upstream stays and keeps serving', async () => {
    const before = readFileSync(upstreamFile, 'utf8');
    const r = spawnSync(join(ROOT, 'docs/nginx/set-weight.sh'), ['50'], { env: { ...env, NGINX_CANARY: 'no such host:port:x' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nginx rejected the new upstream');
    expect(readFileSync(upstreamFile, 'utf8')).toBe(before);
    const served = await sendRequests(nginx.url + '/orders', 50);
    expect(served.byStatus[200]).toBe(50);
  }, 60_000);
});
