import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../errors.js';
import { newestFirst } from './github-records.js';
import {
  fitDescription,
  parsePayload,
  type DeploymentRecord,
  type DeploymentRecords,
  type DeploymentState,
  type NewDeployment,
  type StatusRecord,
  type StatusUpdate,
} from './records.js';

/** Where records go without a token. */
export const DEFAULT_LEDGER_FILE = '.rollgate/ledger.json';

interface LedgerStatus {
  state: DeploymentState;
  description?: string;
  environmentUrl?: string;
  logUrl?: string;
  createdAt: string;
}

interface LedgerDeployment {
  id: number;
  environment: string;
  ref: string;
  createdAt: string;
  description?: string;
  payload: unknown;
  statuses: LedgerStatus[];
}

interface LedgerFile {
  version: 1;
  deployments: LedgerDeployment[];
}

const STATES: ReadonlySet<string> = new Set<DeploymentState>(['queued', 'pending', 'in_progress', 'success', 'failure', 'error', 'inactive']);

/**
 * The same records as GitHub Deployments, in a JSON file: for the CLI and the local demo,
 * where there is no token. Each write replaces the file atomically (write, then rename).
 */
export class LedgerDeploymentRecords implements DeploymentRecords {
  readonly kind = 'ledger' as const;
  readonly location: string;
  constructor(
    private readonly file: string = DEFAULT_LEDGER_FILE,
    private readonly options: { runUrl?: string; now?: () => Date } = {},
  ) {
    this.location = file;
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  private read(): LedgerFile {
    if (!existsSync(this.file)) return { version: 1, deployments: [] };
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new UserError(`${this.file}: not a rollgate ledger (${err instanceof Error ? err.message : String(err)}); move it away to start a new one`);
    }
    if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as { deployments?: unknown }).deployments))
      throw new UserError(`${this.file}: not a rollgate ledger (expected {"version": 1, "deployments": [...]}); move it away to start a new one`);
    const deployments = (parsed as { deployments: unknown[] }).deployments.filter(isLedgerDeployment);
    return { version: 1, deployments };
  }

  private write(ledger: LedgerFile): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(ledger, null, 2)}\n`);
    renameSync(temp, this.file);
  }

  async create(deployment: NewDeployment): Promise<DeploymentRecord> {
    const ledger = this.read();
    const id = ledger.deployments.reduce((max, d) => Math.max(max, d.id), 0) + 1;
    const entry: LedgerDeployment = {
      id,
      environment: deployment.environment,
      ref: deployment.ref,
      createdAt: this.now(),
      description: deployment.description ? fitDescription(deployment.description) : undefined,
      payload: { ...deployment.payload },
      statuses: [],
    };
    ledger.deployments.push(entry);
    this.write(ledger);
    return toRecord(entry);
  }

  async setStatus(id: number, update: StatusUpdate): Promise<void> {
    const ledger = this.read();
    const entry = ledger.deployments.find((d) => d.id === id);
    if (!entry) throw new UserError(`${this.file}: no deployment #${id}`);
    entry.statuses.push({
      state: update.state,
      description: update.description ? fitDescription(update.description) : undefined,
      environmentUrl: update.environmentUrl,
      logUrl: this.options.runUrl,
      createdAt: this.now(),
    });
    this.write(ledger);
  }

  async list(environment: string): Promise<DeploymentRecord[]> {
    return this.read()
      .deployments.filter((d) => d.environment === environment)
      .map(toRecord)
      .sort(newestFirst)
      .slice(0, 100);
  }

  async statuses(id: number): Promise<StatusRecord[]> {
    const entry = this.read().deployments.find((d) => d.id === id);
    if (!entry) return [];
    // Appended in order: the last one is the newest.
    return [...entry.statuses].reverse().map((s) => ({ state: s.state, description: s.description, createdAt: s.createdAt }));
  }
}

function toRecord(d: LedgerDeployment): DeploymentRecord {
  return { id: d.id, environment: d.environment, ref: d.ref, createdAt: d.createdAt, payload: parsePayload(d.payload), description: d.description };
}

function isLedgerDeployment(value: unknown): value is LedgerDeployment {
  if (!value || typeof value !== 'object') return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d.id === 'number' &&
    typeof d.environment === 'string' &&
    typeof d.ref === 'string' &&
    typeof d.createdAt === 'string' &&
    Array.isArray(d.statuses) &&
    d.statuses.every((s) => s && typeof s === 'object' && STATES.has(String((s as { state?: unknown }).state)) && typeof (s as { createdAt?: unknown }).createdAt === 'string')
  );
}
