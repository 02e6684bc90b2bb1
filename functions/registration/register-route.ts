/**
 * `POST /operations`: the request checked (shape, the lists of the operator and of the caller's tenant, the pending
 * bounds of the owner and of the tenant), then stored, or the pending registration found. Every refusal is
 * audited and stores nothing. The body's size was bounded before the request got here (http/body-limit.ts).
 */
import type {Response} from '@google-cloud/functions-framework';
import {defaultPollPolicy} from '../core/completion-events';
import type {RegistrationConfig} from '../core/config';
import type {NewRegistration} from '../core/model';
import {accessRefusals} from '../core/tenants';
import {sendError, sendInvalid} from '../http/responses';
import {audit, type AuditEvent} from '../platform/audit';
import type {Logger} from '../platform/log';
import type {Caller} from './caller';
import {PendingQuota} from './pending-quota';
import type {RegistrationApiDependencies, RouteHandler} from './routes';
import type {RegistrationStore} from './store';
import {validateRegistration} from './validation';
import {toApiView} from './view';

/**
 * The pending bounds: MAX_PENDING_PER_OWNER per owner, and each tenant's `maxPending` for the whole tenant. A new
 * watch is held to them as a new registration is (watch-routes.ts).
 */
export class PendingBounds {
  private readonly owners: PendingQuota;
  private readonly tenants = new Map<string, PendingQuota>();

  constructor(
    private readonly store: RegistrationStore,
    private readonly config: RegistrationConfig,
  ) {
    this.owners = new PendingQuota(
      owner => store.countPending('owner', owner),
      config.maxPendingPerOwner,
    );
  }

  private tenantQuota(name: string): PendingQuota {
    let quota = this.tenants.get(name);
    if (!quota) {
      const max =
        this.config.tenants?.get(name)?.maxPending ??
        this.config.maxPendingPerOwner;
      quota = new PendingQuota(
        tenant => this.store.countPending('tenant', tenant),
        max,
      );
      this.tenants.set(name, quota);
    }
    return quota;
  }

  /** Why `caller` may not start one more watch, or undefined when they may. */
  async refusal(caller: Caller): Promise<string | undefined> {
    if (!(await this.owners.allows(caller.principal))) {
      return `${caller.principal} already has ${this.config.maxPendingPerOwner} pending registrations (MAX_PENDING_PER_OWNER); cancel some or wait for them to finish`;
    }
    const tenant = caller.tenant;
    if (
      tenant !== undefined &&
      !(await this.tenantQuota(tenant).allows(tenant))
    )
      return `tenant ${tenant} is at its bound of pending registrations (TENANTS.${tenant}.maxPending); cancel some or wait for them to finish`;
    return undefined;
  }

  /** Counts a watch this instance started for `caller`. */
  started(caller: Caller): void {
    this.owners.started(caller.principal);
    if (caller.tenant !== undefined)
      this.tenantQuota(caller.tenant).started(caller.tenant);
  }
}

/**
 * Answers 403 when the caller may not register `request` (or watch a parent: its operations stand for it),
 * auditing it; true when it did.
 */
export function refused(
  request: Pick<NewRegistration, 'operation' | 'topic' | 'subject'>,
  caller: Caller,
  config: RegistrationConfig,
  res: Response,
  {log, event}: {log: Logger; event: Omit<AuditEvent, 'outcome'>},
): boolean {
  const tenancy = config.tenants && {
    tenants: config.tenants,
    tenant: caller.tenant,
    owner: caller.principal,
  };
  const refusals = accessRefusals(request, config.allowlists, tenancy);
  if (refusals.length === 0) return false;
  audit(log, {...event, outcome: 'forbidden'});
  sendError(
    res,
    403,
    `not allowed: ${refusals.map(refusal => refusal.message).join('; ')}`,
    refusals,
  );
  return true;
}

/** `POST /operations`: checks the request, then stores the registration (or finds the pending one). */
export function registerRoute(deps: RegistrationApiDependencies): RouteHandler {
  const {config, store} = deps;
  const now = deps.now ?? Date.now;
  const bounds = new PendingBounds(store, config);
  return async (req, res, {caller, log, trace}) => {
    // Every refusal is audited with its reason: the log-based metric of refused registrations counts them.
    const refuse = (outcome: string) =>
      audit(log, {
        action: 'register',
        principal: caller.principal,
        ...(caller.tenant !== undefined && {tenant: caller.tenant}),
        outcome,
      });
    if (!req.is('application/json')) {
      refuse('unsupported_media');
      return sendError(
        res,
        415,
        'send the registration as Content-Type: application/json',
      );
    }
    const validated = validateRegistration(req.body, config);
    if (!validated.ok) {
      refuse('invalid');
      return sendInvalid(res, validated.problems);
    }
    const request = validated.value;
    const event: Omit<AuditEvent, 'outcome'> = {
      action: 'register',
      principal: caller.principal,
      ...(caller.tenant !== undefined && {tenant: caller.tenant}),
      operationUrl: request.operation.url,
      topic: request.topic,
    };
    if (refused(request, caller, config, res, {log, event})) return;
    // Checked before the write, so concurrent registrations may overshoot by a few: a bound, not a ledger.
    const overBound = await bounds.refusal(caller);
    if (overBound) {
      audit(log, {...event, outcome: 'over_quota'});
      return sendError(res, 429, overBound);
    }
    const {registration, created, previous} = await store.register(
      {
        ...request,
        pollPolicy:
          request.pollPolicy ??
          defaultPollPolicy(request.operation, config.completionEvents),
      },
      caller.principal,
      now(),
      caller.tenant,
      trace,
    );
    if (created) {
      bounds.started(caller);
      // Before the answer: past it, Cloud Functions may take the CPU away. It never fails the registration.
      await deps.wake?.registered(registration.id);
    }
    const view = toApiView(registration, previous);
    audit(log, {
      ...event,
      registrationId: registration.id,
      outcome: created ? 'created' : 'existing',
    });
    if (view.previous) {
      log.info('registration started again after its watch ended', {
        registrationId: registration.id,
        operationUrl: registration.operation.url,
        previous: view.previous,
      });
    }
    res
      .status(created ? 201 : 200)
      .location(`/operations/${registration.id}`)
      .json(view);
  };
}
