import { startLoad } from './load.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import { startSampleService, type Behaviour, type SampleService } from './sample-service.js';

/** A stable and a canary release under steady load, scraped every second by a real Prometheus. */
export interface TrackPair {
  stable: SampleService;
  canary: SampleService;
  prometheus: PrometheusServer;
  stop(): Promise<void>;
}

/** Starts the pair and returns once Prometheus has data for both tracks. */
export async function startTrackPair(options: { behaviour?: Partial<Behaviour>; rps?: number; seeds?: [number, number] } = {}): Promise<TrackPair> {
  const [stableSeed, canarySeed] = options.seeds ?? [1, 2];
  const stable = await startSampleService({ track: 'stable', version: 'v1', behaviour: { ...options.behaviour }, seed: stableSeed });
  const canary = await startSampleService({ track: 'canary', version: 'v2', behaviour: { ...options.behaviour }, seed: canarySeed });
  const loads = [startLoad(`${stable.url}/orders`, options.rps ?? 40), startLoad(`${canary.url}/orders`, options.rps ?? 40)];
  const prometheus = await startPrometheus({
    targets: [`127.0.0.1:${stable.port}`, `127.0.0.1:${canary.port}`],
    scrapeInterval: '1s',
    waitForQuery: 'sum(rate(http_requests_total{track="canary"}[5s])) > 0 and sum(rate(http_requests_total{track="stable"}[5s])) > 0',
  });
  return {
    stable,
    canary,
    prometheus,
    async stop() {
      await Promise.all(loads.map((l) => l.stop()));
      await prometheus.stop();
      await stable.close();
      await canary.close();
    },
  };
}
