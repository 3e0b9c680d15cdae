// A sample service in a process of its own, so a test can kill it the way a release crashes:
// `node --import tsx harness/sample-service-process.ts <track> <version> [latencyMs]` prints
// `listening <port>` once it serves.
import { startSampleService } from './sample-service.js';

const [track = 'canary', version = 'v2', latency = '10'] = process.argv.slice(2);
// As most apps: the 500 series appears with the first 5xx.
const service = await startSampleService({ track, version, behaviour: { latencyMs: Number(latency) }, seed: 9, precreateErrorSeries: false });
console.log(`listening ${service.port}`);
