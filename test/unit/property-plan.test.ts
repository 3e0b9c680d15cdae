import fc from 'fast-check';
import { parseDuration } from '../../src/core/duration.js';
import { parsePlanText, validatePlanObject } from '../../src/core/plan/load.js';
import { PlanError, UserError } from '../../src/core/errors.js';
import { parseActionFlags, UsageError } from '../../src/core/cli.js';
import { loadActionMetadata } from '../../src/core/action-metadata.js';
import { commandFromTemplate } from '../../src/core/template.js';
import { MemoryRuntime } from '../../src/core/runtime.js';
import { getDurationInput, getNumberInput, getBooleanInput, getListInput } from '../../src/core/inputs.js';

const RUNS = { numRuns: 250 };

/** Rejections must be the user's kind of error, with a message and no stack trace in it. */
function expectCleanRejection(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message.length).toBeGreaterThan(0);
    expect((err as Error).message).not.toMatch(/\n\s+at /);
  }
}

describe('hostile and malformed plans', () => {
  it('never crashes on arbitrary YAML text: a plan or a PlanError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parsePlanText(text, 'p.yml', { env: {} });
        } catch (err) {
          expect(err).toBeInstanceOf(PlanError);
          expect((err as PlanError).problems.length).toBeGreaterThan(0);
        }
      }),
      RUNS,
    );
  });

  it('never crashes on arbitrary JSON-like values in every section', () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(
        fc.record(
          {
            service: value,
            environment: value,
            traffic: value,
            metrics: value,
            analysis: value,
            steps: value,
            flags: value,
            notify: value,
            deploy: value,
            smoke: value,
          },
          { requiredKeys: [] },
        ),
        (raw) => {
          try {
            validatePlanObject(raw as Record<string, unknown>, 'p.yml', { env: {} });
          } catch (err) {
            expect(err).toBeInstanceOf(PlanError);
            for (const problem of (err as PlanError).problems) expect(problem).toMatch(/^[\w.[\]()]+.*: /);
          }
        },
      ),
      RUNS,
    );
  });

  it('treats ${…} and shell syntax in values as plain text, never evaluated', () => {
    fc.assert(
      fc.property(fc.constantFrom('$(id)', '`id`', '${{ github.token }}', "'; rm -rf /", '\n'), fc.string({ maxLength: 20 }), (evil, tail) => {
        const { plan } = validatePlanObject({ service: 'a', environment: `${evil}${tail}` }, 'p.yml', { env: {} });
        expect(plan.environment).toBe(`${evil}${tail}`.replace(/\$\$\{/g, '${'));
      }),
      RUNS,
    );
  });
});

describe('durations', () => {
  it('parses every well-formed duration to the right number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000]), (n, [unit, factor]) => {
        expect(parseDuration(`${n}${unit}`)).toBe(n * (factor as number));
      }),
      RUNS,
    );
  });
  it('returns undefined, never throws, for arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const ms = parseDuration(text);
        if (ms !== undefined) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('action inputs', () => {
  it('either accepts an input or names it in a clean error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (value) => {
        const runtime = new MemoryRuntime({ bake: value, weight: value, gate: value, steps: value });
        expectCleanRejection(() => getDurationInput(runtime, 'bake'));
        expectCleanRejection(() => getNumberInput(runtime, 'weight', { min: 0, max: 100 }));
        expectCleanRejection(() => getBooleanInput(runtime, 'gate', true));
        expectCleanRejection(() => getListInput(runtime, 'steps'));
      }),
      RUNS,
    );
  });
  it('accepted weights are always within bounds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (value) => {
        try {
          const n = getNumberInput(new MemoryRuntime({ weight: value }), 'weight', { min: 0, max: 100 });
          if (n !== undefined) expect(n >= 0 && n <= 100).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(UserError);
        }
      }),
      RUNS,
    );
  });
  it('CLI arguments map to inputs or fail with a message', () => {
    const gate = loadActionMetadata(process.cwd(), 'metrics-gate');
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 6 }), (args) => {
        try {
          const { inputs } = parseActionFlags(gate, args);
          for (const key of Object.keys(inputs)) expect(Object.keys(gate.inputs)).toContain(key);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
        }
      }),
      RUNS,
    );
  });
  it('a placeholder value never becomes more than one argument', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (version) => {
        const argv = commandFromTemplate('./deploy.sh {{slot}} {{version}}', { slot: 'canary', version });
        expect(argv).toEqual(['./deploy.sh', 'canary', version]);
      }),
      RUNS,
    );
  });
});
