import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../harness/process.js';
import { commandTrafficSchema } from '../../src/core/plan/schema.js';
import { CommandTrafficProvider } from '../../src/core/traffic/command.js';

// Real scripts in a temp dir stand in for the user's own traffic tooling.
describe('command traffic provider (the user own scripts)', () => {
  const dir = tempDir('rollgate-command-');
  const script = (name: string, body: string) => {
    const file = join(dir.path, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  const weightFile = join(dir.path, 'weight');
  const setWeight = script('set_weight.sh', `echo "setting $1"; printf '%s' "$1" > ${weightFile}`);
  const getWeight = script('get_weight.sh', `cat ${weightFile}`);
  const lines: string[] = [];
  const deps = (extra: Partial<ConstructorParameters<typeof CommandTrafficProvider>[1]> = {}) => ({
    service: 'orders',
    environment: 'prod',
    log: (l: string) => lines.push(l),
    group: <T>(title: string, fn: () => Promise<T>) => (lines.push(`group: ${title}`), fn()),
    env: process.env,
    cwd: dir.path,
    ...extra,
  });
  afterAll(() => dir.remove());

  it('runs setWeight as an argument vector, streams its output into a group, and reads the weight back', async () => {
    writeFileSync(weightFile, '0');
    const provider = new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${setWeight} {{weight}}`, getWeight }), deps());
    const state = await provider.setWeight(25);
    expect(state.canaryPercent).toBe(25);
    expect(readFileSync(weightFile, 'utf8')).toBe('25');
    expect(lines).toContain(`group: traffic.setWeight: ${setWeight} 25`);
    expect(lines).toContain('setting 25');
    const outcome = await provider.rollback();
    expect(outcome).toMatchObject({ changed: true, after: { canaryPercent: 0 } });
    expect((await provider.rollback()).changed).toBe(false);
  });

  it('fails when getWeight reads back something other than what was set', async () => {
    const stuck = script('stuck.sh', 'echo 10');
    const provider = new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${setWeight} {{weight}}`, getWeight: stuck }), deps());
    await expect(provider.setWeight(50)).rejects.toThrow('command: read-back after the change does not match: expected canary at 50%, getWeight says 10%');
  });

  it('fails with the exit status and the last lines of stderr when setWeight exits non-zero', async () => {
    const failing = script('fail.sh', 'echo "lb api: 403 forbidden" >&2; exit 3');
    const provider = new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${failing} {{weight}}` }), deps());
    await expect(provider.setWeight(5)).rejects.toThrow(/traffic\.setWeight \(.*fail\.sh\) exited with status 3: lb api: 403 forbidden/);
  });

  it('names getWeight output that is not a share', async () => {
    const junk = script('junk.sh', 'echo "fifty"');
    const provider = new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${setWeight} {{weight}}`, getWeight: junk }), deps());
    await expect(provider.getState()).rejects.toThrow(`getWeight printed "fifty"; expected the canary's share, a number from 0 to 100`);
  });

  it('without getWeight, remembers the last weight in the state directory, and rollback always sets 0', async () => {
    const stateDir = join(dir.path, 'state');
    writeFileSync(weightFile, '0');
    const make = () => new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${setWeight} {{weight}}` }), deps({ stateDir }));
    await make().setWeight(30);
    // A later step (a new process) sees what the earlier one set.
    expect((await make().getState()).canaryPercent).toBe(30);
    writeFileSync(weightFile, '77'); // changed by hand behind rollgate's back
    const outcome = await make().rollback();
    expect(outcome.after.canaryPercent).toBe(0);
    expect(readFileSync(weightFile, 'utf8')).toBe('0');
  });

  it('blue-green: switches by calling setWeight with the colour, and reads the live colour back', async () => {
    const colourFile = join(dir.path, 'colour');
    writeFileSync(colourFile, 'blue');
    const sw = script('switch.sh', `printf '%s' "$1" > ${colourFile}`);
    const live = script('live.sh', `cat ${colourFile}`);
    const provider = new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${sw} {{slot}}`, getWeight: live }), deps({ mode: 'blue-green' }));
    expect(await provider.liveColour()).toBe('blue');
    expect((await provider.switchTo('green')).live).toBe('green');
    expect(readFileSync(colourFile, 'utf8')).toBe('green');
    expect((await provider.rollback({ toColour: 'blue' })).changed).toBe(true);
    expect((await provider.rollback({ toColour: 'blue' })).changed).toBe(false);
    await expect(provider.setWeight(10)).rejects.toThrow(/setWeight is for strategy canary/);
  });

  it('keeps a hostile value one argument: nothing is run through a shell', async () => {
    const echo = script('args.sh', `printf '%s\\n' "$#" "$1" > ${join(dir.path, 'args')}`);
    const provider = new CommandTrafficProvider(commandTrafficSchema.parse({ provider: 'command', setWeight: `${echo} "{{service}}"` }), deps({ service: 'x; touch pwned' }));
    await provider.setWeight(1);
    expect(readFileSync(join(dir.path, 'args'), 'utf8')).toBe('1\nx; touch pwned\n');
  });
});
