/** The allowlists' topic globs: `*` within one path segment, matched in linear time. */
import fc from 'fast-check';
import {globMatches} from '../../../functions/core/allowlists';
import {growth} from '../../support/growth';

/** What a glob meant when it was a regular expression: the reference the matcher must agree with. */
function byRegExp(glob: string, text: string): boolean {
  const body = glob
    .split('*')
    .map(part => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
  return new RegExp(`^${body}$`).test(text);
}

describe('globMatches', () => {
  it('matches * within one segment only', () => {
    expect(globMatches('projects/p/topics/*', 'projects/p/topics/t')).toBe(
      true,
    );
    expect(globMatches('projects/p/topics/*', 'projects/p/topics/a/b')).toBe(
      false,
    );
    expect(
      globMatches('projects/*/topics/team-*', 'projects/q/topics/team-'),
    ).toBe(true);
    expect(globMatches('a*b*a', 'aba')).toBe(true);
    expect(globMatches('a*b*a', 'ab')).toBe(false);
    expect(globMatches('*.x', '.x')).toBe(true);
  });

  it('agrees with the regular expression it replaced', () => {
    const text = fc.string({
      unit: fc.constantFrom('a', 'b', '/', '.'),
      maxLength: 12,
    });
    const glob = fc.string({
      unit: fc.constantFrom('a', 'b', '/', '.', '*'),
      maxLength: 8,
    });
    fc.assert(
      fc.property(glob, text, (g, t) => globMatches(g, t) === byRegExp(g, t)),
      {numRuns: 5000},
    );
  });

  it('takes time linear in the topic, however many * the glob has', () => {
    const glob = `projects/p/topics/${'*a'.repeat(6)}*b`;
    const found = growth(size => {
      const topic = `projects/p/topics/${'a'.repeat(size)}`;
      return () => globMatches(glob, topic);
    });
    expect(found.ratio).toBeLessThan(8);
  });
});
