/**
 * `opwatch stats` as text: the figures of `GET /stats` (schema Stats) in a few aligned lines, zero counts left out
 * where a line would otherwise list every state.
 */
import type {Stats} from '../functions/core/stats';

/** `name n  name n ...` for the non-zero counts, or `none`. */
function counts(figures: Record<string, number>): string {
  const shown = Object.entries(figures).filter(([, n]) => n > 0);
  return shown.length > 0
    ? shown.map(([name, n]) => `${name} ${n}`).join('  ')
    : 'none';
}

/** The figures, one topic per line. */
export function describeStats(stats: Stats): string {
  const {lagSeconds, notifications} = stats.lastHour;
  const overdue = stats.oldestOverdue;
  const rows: [string, string][] = [
    ...(stats.tenant !== undefined
      ? [['tenant', stats.tenant] as [string, string]]
      : []),
    ['registrations', counts(stats.states)],
    ...Object.entries(stats.tenants ?? {}).map(
      ([name, {pending}]): [string, string] => [
        `tenant ${name}`,
        `pending ${pending}`,
      ],
    ),
    ...stats.shards.map(
      ({shard, buckets, pending, overdue}): [string, string] => [
        `shard ${shard}`,
        `pending ${pending}  overdue ${overdue}  (buckets ${buckets.from}-${buckets.to - 1})`,
      ],
    ),
    [
      'oldest overdue',
      overdue
        ? `${overdue.id}  shard ${overdue.shard}  due ${overdue.overdueSeconds.toFixed(0)} s ago (${overdue.nextPollAt})`
        : 'none',
    ],
    ['last hour', counts(notifications)],
    [
      'lag',
      lagSeconds.count > 0
        ? `p50 ${lagSeconds.p50} s  p99 ${lagSeconds.p99} s  (${lagSeconds.count} notifications)`
        : 'no notifications',
    ],
  ];
  return rows.map(([key, value]) => `${key.padEnd(16)}${value}`).join('\n');
}
