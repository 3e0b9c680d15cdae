import { request, Agent } from 'node:http';

export interface LoadResult {
  sent: number;
  byStatus: Record<number, number>;
  /** Requests answered per value of the x-track response header. */
  byTrack: Record<string, number>;
  /** Requests answered per value of the x-version response header: which release users got. */
  byVersion: Record<string, number>;
  errors: number;
}

/** Sends exactly `count` GET requests to `url`, `concurrency` at a time, and tallies the answers. */
export async function sendRequests(url: string, count: number, concurrency = 10): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: false });
  const result: LoadResult = { sent: 0, byStatus: {}, byTrack: {}, byVersion: {}, errors: 0 };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      result.sent++;
      try {
        const { status, track, version } = await get(url, agent);
        result.byStatus[status] = (result.byStatus[status] ?? 0) + 1;
        if (track) result.byTrack[track] = (result.byTrack[track] ?? 0) + 1;
        if (version) result.byVersion[version] = (result.byVersion[version] ?? 0) + 1;
      } catch {
        result.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  agent.destroy();
  return result;
}

/** Background traffic at about `rps` requests per second (a number, or read every 50 ms for a varying load) until stopped. */
export function startLoad(url: string, rps: number | (() => number)): { stop: () => Promise<LoadResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  const result: LoadResult = { sent: 0, byStatus: {}, byTrack: {}, byVersion: {}, errors: 0 };
  const inflight = new Set<Promise<void>>();
  const tickMs = 50;
  let carry = 0;
  const timer = setInterval(() => {
    carry += (typeof rps === 'function' ? rps() : rps) * (tickMs / 1000);
    while (carry >= 1) {
      carry -= 1;
      result.sent++;
      const p = get(url, agent)
        .then(({ status, track, version }) => {
          result.byStatus[status] = (result.byStatus[status] ?? 0) + 1;
          if (track) result.byTrack[track] = (result.byTrack[track] ?? 0) + 1;
          if (version) result.byVersion[version] = (result.byVersion[version] ?? 0) + 1;
        })
        .catch(() => {
          result.errors++;
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  }, tickMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all([...inflight]);
      agent.destroy();
      return result;
    },
  };
}

function get(url: string, agent: Agent): Promise<{ status: number; track?: string; version?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, track: res.headers['x-track'] as string | undefined, version: res.headers['x-version'] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
