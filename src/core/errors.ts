/**
 * Errors a user can fix (a bad plan, a bad input, a server that answered with an error) are
 * reported plainly, without a stack trace. Anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override readonly name: string = 'UserError';
}

/** A rollout plan that does not validate: names the file, every field path and what was expected. */
export class PlanError extends UserError {
  override readonly name = 'PlanError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(problems.length === 1 ? `${file}: ${problems[0]}` : `${file}: ${problems.length} problems\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** An action input (or CLI flag) that is missing or malformed. */
export class InputError extends UserError {
  override readonly name = 'InputError';
  constructor(
    readonly input: string,
    readonly detail: string,
  ) {
    super(`input ${input}: ${detail}`);
  }
}

/** A remote system (metrics backend, traffic layer, registry, API) failed or refused. */
export class ProviderError extends UserError {
  override readonly name = 'ProviderError';
  constructor(
    readonly provider: string,
    detail: string,
    readonly retryable = false,
  ) {
    super(`${provider}: ${detail}`);
  }
}

/** True for errors that are the user's to fix and are printed without a stack trace. */
export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** A one-line description of any thrown value, safe to print. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
