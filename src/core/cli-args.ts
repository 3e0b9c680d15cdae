/** Maps `--name value` / `--name=value` pairs to INPUT_NAME variables, as the runner does. */
export function inputsFromArgs(args: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--') || arg === '--') throw new Error(`unexpected argument ${JSON.stringify(arg)}: inputs are given as --name value`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && !(args[i + 1] as string).startsWith('--')) value = args[++i] as string;
    else value = 'true';
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`bad input name ${JSON.stringify(name)}: expected lower-case words joined by -`);
    inputs[`INPUT_${name.toUpperCase()}`] = value;
  }
  return inputs;
}
