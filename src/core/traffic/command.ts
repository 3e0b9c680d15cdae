import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProviderError, UserError } from '../errors.js';
import { runCommand } from '../exec.js';
import type { TrafficConfig } from '../plan/schema.js';
import { commandFromTemplate } from '../template.js';
import type { Colour, RollbackOutcome, TrafficCallOptions, TrafficProvider, TrafficState } from './provider.js';
import { otherColour } from './provider.js';

type CommandConfig = Extract<TrafficConfig, { provider: 'command' }>;

export interface CommandTrafficDeps {
  service: string;
  environment: string;
  log: (line: string) => void;
  group: <T>(title: string, fn: () => Promise<T>) => Promise<T>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Where the last weight set is remembered when the plan gives no `getWeight`. */
  stateDir?: string;
  mode?: 'canary' | 'blue-green';
}

interface Remembered {
  canaryPercent: number;
  live?: Colour;
}

/**
 * The user's own scripts as a traffic provider, for targets rollgate has no provider for.
 * `setWeight` gets `{{weight}}` (the canary's share, 0–100; blue-green: 100 for `{{slot}}`,
 * the colour going live). `getWeight` prints the canary's share (blue-green: the live colour).
 * Without `getWeight` the last value set is remembered in the state directory, and the
 * exit status is the only read-back there is.
 */
export class CommandTrafficProvider implements TrafficProvider {
  readonly kind = 'command';
  readonly target: string;
  readonly supports = { canary: true, blueGreen: true };
  private readonly mode: 'canary' | 'blue-green';
  /** What this process set last, when there is no state directory to remember it in. */
  private inMemory: Remembered | undefined;

  constructor(
    private readonly config: CommandConfig,
    private readonly deps: CommandTrafficDeps,
  ) {
    this.mode = deps.mode ?? 'canary';
    this.target = `command traffic for ${deps.service}/${deps.environment}`;
  }

  async getState(options: TrafficCallOptions = {}): Promise<TrafficState> {
    if (this.config.getWeight) {
      const out = (await this.run('getWeight', this.config.getWeight, {}, options.signal)).trim().split('\n').pop()?.trim() ?? '';
      if (this.mode === 'blue-green') {
        if (out !== 'blue' && out !== 'green')
          throw new ProviderError('command', `getWeight printed ${JSON.stringify(out)}; in blue-green it must print the live colour (blue or green)`);
        return colourState(out);
      }
      const percent = Number(out.replace(/%$/, ''));
      if (out === '' || !Number.isFinite(percent) || percent < 0 || percent > 100)
        throw new ProviderError('command', `getWeight printed ${JSON.stringify(out)}; expected the canary's share, a number from 0 to 100`);
      return weightState(percent);
    }
    const remembered = this.remembered();
    if (this.mode === 'blue-green') return colourState(remembered?.live ?? 'blue');
    return weightState(remembered?.canaryPercent ?? 0);
  }

  async setWeight(percent: number, options: TrafficCallOptions = {}): Promise<TrafficState> {
    if (this.mode !== 'canary') throw new UserError('command: setWeight is for strategy canary; blue-green switches colours');
    await this.run('setWeight', this.config.setWeight, { weight: percent, slot: 'canary' }, options.signal);
    this.remember({ canaryPercent: percent });
    return this.readBack((s) => Math.abs(s.canaryPercent - percent) < 0.5, `canary at ${percent}%`, options.signal);
  }

  async promote(options: TrafficCallOptions = {}): Promise<TrafficState> {
    if (this.config.promote) await this.run('promote', this.config.promote, { weight: 0, slot: 'stable' }, options.signal);
    else await this.run('setWeight', this.config.setWeight, { weight: 0, slot: 'canary' }, options.signal);
    this.remember({ canaryPercent: 0 });
    return this.readBack((s) => s.canaryPercent === 0, 'canary at 0% after promotion', options.signal);
  }

  async rollback(options: TrafficCallOptions & { toColour?: Colour } = {}): Promise<RollbackOutcome> {
    const before = await this.getState(options);
    if (this.mode === 'blue-green') {
      const to = options.toColour;
      if (!to) throw new UserError('blue-green rollback needs the colour to return to, and no earlier switch is on record');
      if (before.live === to) return { changed: false, before, after: before };
      return { changed: true, before, after: await this.switchTo(to, options) };
    }
    // Without getWeight the remembered value may be stale (a script run by hand): always set 0.
    if (before.canaryPercent === 0 && this.config.getWeight) return { changed: false, before, after: before };
    await this.run('setWeight', this.config.setWeight, { weight: 0, slot: 'canary' }, options.signal);
    this.remember({ canaryPercent: 0 });
    const after = await this.readBack((s) => s.canaryPercent === 0, 'canary at 0%', options.signal);
    return { changed: before.canaryPercent !== 0, before, after };
  }

  async liveColour(options: TrafficCallOptions = {}): Promise<Colour> {
    return (await this.getState(options)).live ?? 'blue';
  }

  async switchTo(colour: Colour, options: TrafficCallOptions = {}): Promise<TrafficState> {
    if (this.mode !== 'blue-green') throw new UserError('command: switchTo is for strategy blue-green');
    await this.run('setWeight', this.config.setWeight, { weight: 100, slot: colour, colour }, options.signal);
    this.remember({ canaryPercent: 0, live: colour });
    return this.readBack((s) => s.live === colour, `${colour} live`, options.signal);
  }

  private async readBack(ok: (s: TrafficState) => boolean, wanted: string, signal?: AbortSignal): Promise<TrafficState> {
    const state = await this.getState({ signal });
    if (!ok(state))
      throw new ProviderError(
        'command',
        `read-back after the change does not match: expected ${wanted}, getWeight says ${this.mode === 'blue-green' ? `${state.live} live` : `${state.canaryPercent}%`}`,
      );
    return state;
  }

  private async run(field: string, template: string, vars: Record<string, string | number>, signal?: AbortSignal): Promise<string> {
    const argv = commandFromTemplate(template, { service: this.deps.service, environment: this.deps.environment, ...vars }, `traffic.${field}`);
    return this.deps.group(`traffic.${field}: ${argv.join(' ')}`, async () => {
      const result = await runCommand(argv, {
        cwd: this.deps.cwd,
        env: this.deps.env,
        timeoutMs: this.config.timeout,
        signal,
        onLine: (line) => this.deps.log(line),
      });
      if (result.exitCode !== 0) {
        const tail = result.stderr.trim().split('\n').slice(-3).join(' | ');
        throw new ProviderError('command', `traffic.${field} (${argv[0]}) exited with status ${result.exitCode}${tail ? `: ${tail}` : ''}`);
      }
      return result.stdout;
    });
  }

  private stateFile(): string | undefined {
    return this.deps.stateDir ? join(this.deps.stateDir, `${this.deps.service}-${this.deps.environment}.traffic.json`) : undefined;
  }

  private remembered(): Remembered | undefined {
    const file = this.stateFile();
    if (!file) return this.inMemory;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Remembered;
    } catch {
      return undefined;
    }
  }

  private remember(update: Partial<Remembered>): void {
    this.inMemory = { ...(this.inMemory ?? { canaryPercent: 0 }), ...update };
    const file = this.stateFile();
    if (!file || !this.deps.stateDir) return;
    mkdirSync(this.deps.stateDir, { recursive: true });
    writeFileSync(file, JSON.stringify({ ...this.remembered(), ...update }));
  }
}

function weightState(percent: number): TrafficState {
  return {
    canaryPercent: percent,
    slots: [
      { role: 'stable', name: 'stable', percent: 100 - percent },
      { role: 'canary', name: 'canary', percent },
    ],
  };
}

function colourState(live: Colour): TrafficState {
  return {
    canaryPercent: 0,
    live,
    slots: [
      { role: live, name: live, percent: 100 },
      { role: otherColour(live), name: otherColour(live), percent: 0 },
    ],
  };
}
