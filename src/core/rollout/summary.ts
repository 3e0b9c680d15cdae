import { describePhase, nextSafeStep, type RolloutRecord } from './state-machine.js';

/** The lines every traffic-moving action ends its summary with: where the rollout stands and what to run next. */
export function phaseSummary(record: RolloutRecord | undefined): string {
  if (!record) return ['### Rollout', '', '- phase: no rollout on record', `- next safe step: ${nextSafeStep(undefined)}`].join('\n');
  const slots = Object.entries(record.slots)
    .map(([slot, version]) => `${slot} \`${version}\``)
    .join(' · ');
  return [
    '### Rollout',
    '',
    `- phase: **${record.phase}** — ${describePhase(record)} (generation ${record.generation})`,
    ...(slots ? [`- slots: ${slots}${record.stableOverwritten ? ' (stable overwritten by an unfinished promotion)' : ''}`] : []),
    ...(record.lastGood ? [`- last good version: \`${record.lastGood}\``] : []),
    ...(record.lock ? [`- lock: ${record.lock.action} by ${record.lock.owner} (last heard ${record.lock.heartbeat})`] : []),
    `- next safe step: ${nextSafeStep(record)}`,
  ].join('\n');
}
