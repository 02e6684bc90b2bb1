/**
 * Tenants (TENANTS): the teams sharing one deployment. Each is known by its principals and bounded by lists of its
 * own within the operator's global ones: a registration must pass both, and a list a tenant leaves out is the
 * global one. A caller belongs to at most one tenant, which the configuration guarantees at start, so a tenant's
 * registrations, notifications and learned durations are its own.
 *
 *   {"team-a": {"principals": ["a@example.com", "*@a.example.com"], "projects": ["proj-a"],
 *               "topics": ["projects/proj-a/topics/*"], "maxPending": 500, "admins": ["lead@a.example.com"]}}
 */
import {z} from 'zod';
import {
  VARIABLE_NAMES,
  refusals,
  type Allowlists,
  type ListNames,
  type Refusal,
} from './allowlists';
import type {NewRegistration} from './model';
import {parseJsonText} from './json-text';

/** A tenant's name: like a label, so it is safe as a Pub/Sub attribute, in a subscription filter and in logs. */
export const TENANT_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** `*@domain`: every e-mail of exactly that domain (not its subdomains). */
const DOMAIN_PRINCIPAL =
  /^\*@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** One tenant. */
export interface Tenant {
  name: string;
  /** E-mails, or `*@domain` for a whole domain, lower-case. */
  principals: readonly string[];
  /** The lists the tenant sets; the global list stands for any it leaves out. */
  allowlists: Partial<
    Pick<Allowlists, 'projects' | 'services' | 'topics' | 'subjects'>
  >;
  /** Pending registrations of the whole tenant; MAX_PENDING_PER_OWNER when it sets none. */
  maxPending?: number;
  /** Principals of the tenant (e-mails) who read its figures (`GET /stats`). */
  admins: readonly string[];
}

/** The tenants by name; undefined where TENANTS is unset. */
export type Tenants = ReadonlyMap<string, Tenant>;

const lowerCaseList = z.array(
  z
    .string()
    .min(1)
    .transform(item => item.toLowerCase()),
);

const principalSchema = z
  .string()
  .transform(text => text.trim().toLowerCase())
  .refine(
    text => DOMAIN_PRINCIPAL.test(text) || z.email().safeParse(text).success,
    'principals must be e-mail addresses or *@domain',
  );

const tenantSchema = z.strictObject({
  principals: z.array(principalSchema).min(1),
  projects: lowerCaseList.optional(),
  services: lowerCaseList.optional(),
  // Topic ids are case-sensitive.
  topics: z.array(z.string().min(1)).optional(),
  subjects: lowerCaseList.optional(),
  maxPending: z.int().min(1).optional(),
  admins: z
    .array(
      z
        .email()
        .transform(email => email.toLowerCase())
        .meta({description: 'e-mails, not *@domain'}),
    )
    .optional(),
});

/** Two principal entries that one caller could match, in tenants `a` and `b`. */
function overlap(a: string, b: string): boolean {
  if (a === b) return true;
  const domainOf = (entry: string) => entry.slice(entry.lastIndexOf('@'));
  if (a.startsWith('*@') && !b.startsWith('*@'))
    return domainOf(a) === domainOf(b);
  if (b.startsWith('*@') && !a.startsWith('*@'))
    return domainOf(a) === domainOf(b);
  return false;
}

/** The principals found in two tenants, as messages; none when every caller can have at most one tenant. */
function ambiguities(tenants: Record<string, {principals: string[]}>) {
  const entries = Object.entries(tenants).flatMap(([name, tenant]) =>
    tenant.principals.map(principal => ({name, principal})),
  );
  return entries.flatMap((a, index) =>
    entries
      .slice(index + 1)
      .filter(b => a.name !== b.name && overlap(a.principal, b.principal))
      .map(
        b =>
          `${a.principal} (tenant ${a.name}) and ${b.principal} (tenant ${b.name}) can name the same caller`,
      ),
  );
}

/** TENANTS, as JSON text: parsed, checked (no caller in two tenants) and turned into {@link Tenants}. */
export const tenantsSchema = z
  .string()
  .transform(parseJsonText)
  .pipe(z.record(z.string(), tenantSchema))
  .superRefine((tenants, ctx) => {
    for (const name of Object.keys(tenants)) {
      if (!TENANT_NAME.test(name))
        ctx.addIssue({
          code: 'custom',
          message: `tenant names must match [a-z][a-z0-9_-]{0,62}: ${JSON.stringify(name)}`,
        });
    }
    for (const [name, tenant] of Object.entries(tenants)) {
      for (const admin of tenant.admins ?? []) {
        if (!isMember(tenant.principals, admin))
          ctx.addIssue({
            code: 'custom',
            message: `tenant ${name}: admin ${admin} is not one of its principals`,
          });
      }
    }
    for (const message of ambiguities(tenants))
      ctx.addIssue({
        code: 'custom',
        message: `a caller in two tenants: ${message}`,
      });
  })
  .transform(
    (tenants): Tenants =>
      new Map(
        Object.entries(tenants).map(([name, tenant]) => [
          name,
          {
            name,
            principals: tenant.principals,
            allowlists: {
              ...(tenant.projects && {projects: new Set(tenant.projects)}),
              ...(tenant.services && {services: tenant.services}),
              ...(tenant.topics && {topics: tenant.topics}),
              ...(tenant.subjects && {subjects: tenant.subjects}),
            },
            ...(tenant.maxPending !== undefined && {
              maxPending: tenant.maxPending,
            }),
            admins: tenant.admins ?? [],
          },
        ]),
      ),
  );

/** The tenant whose principals name `principal` (an e-mail), if any: at most one, as checked at start. */
export function tenantOf(
  tenants: Tenants,
  principal: string,
): Tenant | undefined {
  const email = principal.toLowerCase();
  for (const tenant of tenants.values()) {
    if (isMember(tenant.principals, email)) return tenant;
  }
  return undefined;
}

/** True when `principals` (e-mails and `*@domain` entries) name `email` (lower-case). */
function isMember(principals: readonly string[], email: string): boolean {
  const domain = `*${email.slice(email.lastIndexOf('@'))}`;
  return principals.includes(email) || principals.includes(domain);
}

/** What decides a registration's tenant: TENANTS, and the tenant it was made in (or else its owner's). */
export interface Tenancy {
  tenants: Tenants;
  /** The registration's tenant name, if it has one. */
  tenant?: string;
  owner: string;
}

/** The tenant of a registration under `tenancy`: the one it was made in, or else its owner's; undefined if none. */
function tenantFor(tenancy: Tenancy): Tenant | undefined {
  return tenancy.tenant !== undefined
    ? tenancy.tenants.get(tenancy.tenant)
    : tenantOf(tenancy.tenants, tenancy.owner);
}

/**
 * What the lists refuse in a registration: the global lists', and with TENANTS set its tenant's too (a list the
 * tenant leaves out is the global one, named as such). A registration whose tenant is not, or no longer, in
 * TENANTS is refused outright.
 */
export function accessRefusals(
  registration: Pick<NewRegistration, 'operation' | 'topic' | 'subject'>,
  allowlists: Allowlists,
  tenancy?: Tenancy,
): Refusal[] {
  const global = refusals(registration, allowlists);
  if (!tenancy) return global;
  const tenant = tenantFor(tenancy);
  if (!tenant) {
    const who = tenancy.tenant ?? tenancy.owner;
    return [{field: 'tenant', message: `${who} is in no tenant of TENANTS`}];
  }
  const named = (list: keyof ListNames) =>
    list in tenant.allowlists
      ? `TENANTS.${tenant.name}.${list}`
      : VARIABLE_NAMES[list];
  const names: ListNames = {
    projects: named('projects'),
    services: named('services'),
    topics: named('topics'),
    subjects: named('subjects'),
  };
  const own = refusals(
    registration,
    {...allowlists, ...tenant.allowlists},
    names,
  );
  // A list the tenant leaves out is the global one: its refusal is already in `global`, word for word.
  const seen = new Set(global.map(refusal => refusal.message));
  return [...global, ...own.filter(refusal => !seen.has(refusal.message))];
}
