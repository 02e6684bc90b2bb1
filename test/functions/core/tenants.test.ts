/**
 * TENANTS read at start (core/tenants.ts), and what the lists refuse with tenants (core/allowlists.ts): a caller in
 * two tenants is a configuration error naming both, a tenant's lists apply on top of the global ones, a list it
 * leaves out is the global one, opwatch's own topics and hosts serving user content are refused whatever the lists'
 * wildcards say.
 */
import {parseAllowlists, refusals} from '../../../functions/core/allowlists';
import {
  ConfigError,
  loadPollerConfig,
  loadRegistrationConfig,
} from '../../../functions/core/config';
import type {NewRegistration} from '../../../functions/core/model';
import {accessRefusals, tenantOf} from '../../../functions/core/tenants';
import {newRegistration} from '../../support/new-registration';

const PROJECT = 'demo-opwatch';
const BASE = {
  GOOGLE_CLOUD_PROJECT: PROJECT,
  DEFAULT_TOPIC: 'notifications',
  FUNCTION_URLS: 'https://opwatch.example/operations',
  WATCH_PROJECTS: 'proj-a,proj-b',
  ALLOWED_TOPICS: `projects/${PROJECT}/topics/*`,
};
const TENANTS = {
  'team-a': {
    principals: ['A@Example.com', '*@a.example.com'],
    projects: ['proj-a'],
    topics: [`projects/${PROJECT}/topics/team-a-*`],
    maxPending: 50,
  },
  'team-b': {principals: ['b@example.com'], projects: ['proj-b']},
  'team-c': {principals: ['c@example.com']},
};
const config = loadRegistrationConfig({
  ...BASE,
  TENANTS: JSON.stringify(TENANTS),
});
const tenants = config.tenants!;

function registration(
  project: string,
  topic: string,
  service = 'firestore.googleapis.com',
): NewRegistration {
  return newRegistration(
    service,
    `projects/${project}/databases/(default)/operations/x`,
    `projects/${PROJECT}/topics/${topic}`,
  );
}

const refusedOf = (
  request: ReturnType<typeof registration>,
  owner: string,
  tenant?: string,
) =>
  accessRefusals(request, config.allowlists, {tenants, owner, tenant}).map(
    refusal => refusal.message,
  );

describe('TENANTS', () => {
  it('finds a caller by e-mail, case aside, or by the domain of a *@domain entry, not its subdomains', () => {
    expect(tenantOf(tenants, 'a@example.com')?.name).toBe('team-a');
    expect(tenantOf(tenants, 'dev@a.example.com')?.name).toBe('team-a');
    expect(tenantOf(tenants, 'dev@x.a.example.com')).toBeUndefined();
    expect(tenantOf(tenants, 'b@example.com')?.name).toBe('team-b');
    expect(tenantOf(tenants, 'z@example.com')).toBeUndefined();
  });

  it.each([
    [
      'the same e-mail in two tenants',
      {x: {principals: ['a@example.com']}, y: {principals: ['A@example.com']}},
      'a@example.com (tenant x) and a@example.com (tenant y)',
    ],
    [
      'an e-mail in one tenant and its domain in another',
      {
        x: {principals: ['*@a.example.com']},
        y: {principals: ['dev@a.example.com']},
      },
      '*@a.example.com (tenant x) and dev@a.example.com (tenant y)',
    ],
    [
      'one domain in two tenants',
      {
        x: {principals: ['*@a.example.com']},
        y: {principals: ['*@a.example.com']},
      },
      'can name the same caller',
    ],
    ['a principal that is no e-mail', {x: {principals: ['team a']}}, 'e-mail'],
    [
      'a tenant name that is no label',
      {'Team A': {principals: ['a@x.io']}},
      'tenant names',
    ],
    ['a tenant without principals', {x: {principals: []}}, 'principals'],
    [
      'an unknown field',
      {x: {principals: ['a@x.io'], project: ['p']}},
      'project',
    ],
    [
      'an admin who is not one of its principals',
      {x: {principals: ['*@a.example.com'], admins: ['lead@b.example.com']}},
      'admin lead@b.example.com is not one of its principals',
    ],
    [
      'an admin given as a domain',
      {x: {principals: ['*@a.example.com'], admins: ['*@a.example.com']}},
      'admins',
    ],
    ['text that is not JSON', '{team-a}', 'must be a JSON object'],
  ])('refuses %s at start, naming TENANTS', (_what, tenantsValue, message) => {
    const text =
      typeof tenantsValue === 'string'
        ? tenantsValue
        : JSON.stringify(tenantsValue);
    for (const load of [loadRegistrationConfig, loadPollerConfig]) {
      expect(() => load({...BASE, TENANTS: text})).toThrow(ConfigError);
      expect(() => load({...BASE, TENANTS: text})).toThrow(/TENANTS.*/);
      expect(() => load({...BASE, TENANTS: text})).toThrow(message);
    }
  });

  it('needs callers to be known: not with ALLOW_UNAUTHENTICATED=true', () => {
    expect(() =>
      loadRegistrationConfig({
        ...BASE,
        ALLOW_UNAUTHENTICATED: 'true',
        TENANTS: JSON.stringify(TENANTS),
      }),
    ).toThrow('TENANTS');
  });

  it('leaves tenants unset, and every caller with the global lists, when TENANTS is unset', () => {
    expect(loadRegistrationConfig(BASE).tenants).toBeUndefined();
    expect(
      accessRefusals(registration('proj-b', 'any'), config.allowlists),
    ).toEqual([]);
  });
});

describe('what a tenant may register', () => {
  it("passes its own lists and the global ones: another team's project or topic is refused", () => {
    expect(
      refusedOf(registration('proj-a', 'team-a-x'), 'a@example.com'),
    ).toEqual([]);
    expect(
      refusedOf(registration('proj-b', 'team-a-x'), 'a@example.com'),
    ).toEqual(['project proj-b is not in TENANTS.team-a.projects']);
    expect(
      refusedOf(registration('proj-a', 'team-b-x'), 'a@example.com'),
    ).toEqual([
      `topic projects/${PROJECT}/topics/team-b-x is not in TENANTS.team-a.topics`,
    ]);
    // A project the tenant lists but the operator does not stays refused, named once, by the global list.
    const outside = loadRegistrationConfig({
      ...BASE,
      WATCH_PROJECTS: 'proj-b',
      TENANTS: JSON.stringify(TENANTS),
    });
    expect(
      accessRefusals(registration('proj-a', 'team-a-x'), outside.allowlists, {
        tenants: outside.tenants!,
        owner: 'a@example.com',
      }).map(refusal => refusal.message),
    ).toEqual(['project proj-a is not in WATCH_PROJECTS']);
  });

  it('takes the global list for a field it leaves out', () => {
    // team-b sets no topics: the global ALLOWED_TOPICS apply, and name the refusal.
    expect(
      refusedOf(registration('proj-b', 'team-a-x'), 'b@example.com'),
    ).toEqual([]);
    expect(
      refusedOf(
        {...registration('proj-b', 'x'), topic: 'projects/other/topics/x'},
        'b@example.com',
      ),
    ).toEqual(['topic projects/other/topics/x is not in ALLOWED_TOPICS']);
    // team-c sets nothing but principals: exactly the global lists.
    expect(refusedOf(registration('proj-a', 'x'), 'c@example.com')).toEqual([]);
    expect(refusedOf(registration('proj-z', 'x'), 'c@example.com')).toEqual([
      'project proj-z is not in WATCH_PROJECTS',
    ]);
  });

  it('refuses everything to a registration whose tenant is, or whose owner is, in no tenant of TENANTS', () => {
    expect(
      refusedOf(registration('proj-a', 'team-a-x'), 'z@example.com'),
    ).toEqual(['z@example.com is in no tenant of TENANTS']);
    expect(
      refusedOf(
        registration('proj-a', 'team-a-x'),
        'a@example.com',
        'team-gone',
      ),
    ).toEqual(['team-gone is in no tenant of TENANTS']);
    // The tenant it was made in decides, not the owner's tenant today.
    expect(
      refusedOf(registration('proj-b', 'team-a-x'), 'a@example.com', 'team-b'),
    ).toEqual([]);
  });
});

describe("opwatch's own topics", () => {
  it('are refused whatever the globs say, given short or in full', () => {
    const own = loadPollerConfig({
      GOOGLE_CLOUD_PROJECT: PROJECT,
      ALLOWED_TOPICS: '*,projects/*/topics/*',
      POLL_FANOUT_TOPIC: 'opwatch-poll-fanout',
      DEAD_LETTER_TOPIC: `projects/${PROJECT}/topics/opwatch-dead-letters`,
      COMPLETION_EVENTS_TOPIC: 'opwatch-completions',
    });
    for (const topic of [
      'opwatch-poll-fanout',
      'opwatch-dead-letters',
      'opwatch-completions',
    ]) {
      expect(
        refusals(registration(PROJECT, topic), own.allowlists).map(
          r => r.field,
        ),
      ).toEqual(['topic']);
    }
    expect(refusals(registration(PROJECT, 'mine'), own.allowlists)).toEqual([]);
  });
});

describe('hosts that serve user content', () => {
  const lists = (services: string) =>
    parseAllowlists({
      GOOGLE_CLOUD_PROJECT: PROJECT,
      WATCH_PROJECTS: '*',
      WATCH_SERVICES: services,
    });
  const storage = (host: string) => registration(PROJECT, 'x', host);

  it.each([
    'storage.googleapis.com',
    'my-bucket.storage.googleapis.com',
    'commondatastorage.googleapis.com',
    'firebasestorage.googleapis.com',
  ])('never match * or a wider wildcard: %s', host => {
    for (const services of ['*', '*.googleapis.com']) {
      const refused = refusals(storage(host), lists(services));
      expect(refused).toHaveLength(1);
      expect(refused[0].message).toContain('serves user content');
    }
  });

  it('match only entries that name them', () => {
    expect(
      refusals(
        storage('storage.googleapis.com'),
        lists('*,storage.googleapis.com'),
      ),
    ).toEqual([]);
    expect(
      refusals(
        storage('b.storage.googleapis.com'),
        lists('*.storage.googleapis.com'),
      ),
    ).toEqual([]);
    expect(
      refusals(
        storage('storage.googleapis.com'),
        lists('*.storage.googleapis.com'),
      ),
    ).toHaveLength(1);
    // Other hosts still match *.
    expect(refusals(storage('redis.googleapis.com'), lists('*'))).toEqual([]);
  });
});
