/**
 * `opwatch watch create|list|cancel`: watches of a parent (POST, GET and DELETE /watches), one call of the
 * registration API each. cli/opwatch.ts maps the command line onto these.
 */
import type {WatchView} from './api-client';
import type {Context} from './commands';
import {EXIT} from './exit-codes';
import {parseLabels} from './registration-input';

/** `watch create`'s flags. */
export interface WatchFlags {
  service: string;
  parent: string;
  version?: string;
  filter?: string;
  topic?: string;
  label?: string[];
  timeout?: string;
}

/** One line per watch: its id, state, parent and topic. */
export function watchLine(watch: WatchView): string {
  const service = watch.service.replace(/\.googleapis\.com$/, '');
  return `${watch.id}  ${watch.state.padEnd(10)} ${service} ${watch.parent}  → ${watch.topic}  (${watch.lists} lists)`;
}

/** `watch create`. */
export async function createWatch(
  ctx: Context,
  flags: WatchFlags,
): Promise<number> {
  const labels = parseLabels(flags.label);
  const {created, watch} = await ctx.api().watch({
    service: flags.service,
    parent: flags.parent,
    ...(flags.version !== undefined && {version: flags.version}),
    ...(flags.filter !== undefined && {filter: flags.filter}),
    ...(flags.topic !== undefined && {topic: flags.topic}),
    ...(Object.keys(labels).length > 0 && {labels}),
    ...(flags.timeout !== undefined && {timeout: flags.timeout}),
  });
  ctx.output.result(
    {created, watch},
    () => `${created ? 'watching' : 'already watching'}: ${watchLine(watch)}`,
  );
  return EXIT.succeeded;
}

/** `watch list`. */
export async function listWatches(
  ctx: Context,
  flags: {state?: string; all?: boolean},
): Promise<number> {
  const api = ctx.api();
  let page = await api.listWatches({state: flags.state});
  const watches = [...page.watches];
  while (flags.all && page.nextPageToken) {
    page = await api.listWatches({
      state: flags.state,
      pageToken: page.nextPageToken,
    });
    watches.push(...page.watches);
  }
  ctx.output.result({watches}, () =>
    watches.length > 0 ? watches.map(watchLine).join('\n') : 'no watches',
  );
  return EXIT.succeeded;
}

/** `watch cancel`. */
export async function cancelWatch(ctx: Context, id: string): Promise<number> {
  const watch = await ctx.api().cancelWatch(id);
  ctx.output.result(watch, () => `cancelled: ${watchLine(watch)}`);
  return EXIT.succeeded;
}
