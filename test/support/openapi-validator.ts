/**
 * Checks values against the schemas of the served OpenAPI document (functions/registration/openapi.ts, generated
 * from the zod definitions by openapi-components.ts) with a standard JSON Schema 2020-12 validator (Ajv in strict mode, so a keyword the
 * generator emits that JSON Schema does not know is an error rather than a constraint silently not applied).
 *
 * The component schemas are loaded as `$defs` of one schema, their `#/components/schemas/` references rewritten
 * to match; responses are looked up the way a client would: by path template, method and status (or `default`).
 */
import Ajv2020, {type ValidateFunction} from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import {OPENAPI_DOCUMENT} from '../../functions/registration/openapi';
import type {
  HttpMethod,
  OpenApiDocument,
  ResponseObject,
  Schema,
} from '../../functions/registration/openapi-components';

const ROOT = 'opwatch-openapi';

/** A schema checker for one OpenAPI document. */
export class OpenApiValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument = OPENAPI_DOCUMENT) {
    // strictRequired off: `required` inside oneOf/not (naming properties defined beside it) is valid JSON Schema.
    this.ajv = new Ajv2020({
      strict: true,
      strictRequired: false,
      allErrors: true,
    });
    addFormats(this.ajv);
    const rewritten = JSON.parse(
      JSON.stringify(document.components.schemas).replaceAll(
        '#/components/schemas/',
        `${ROOT}#/$defs/`,
      ),
    ) as Record<string, object>;
    this.ajv.addSchema({$id: ROOT, $defs: rewritten});
  }

  /** Compiles every component schema; throws on the first invalid one. */
  compileAll(): void {
    for (const name of Object.keys(this.document.components.schemas))
      this.validatorFor({$ref: `#/components/schemas/${name}`});
  }

  /** The problems of `value` against `schema` (a component name or a schema); empty when it is valid. */
  problems(schema: string | Schema, value: unknown): string[] {
    const validate = this.validatorFor(
      typeof schema === 'string'
        ? {$ref: `#/components/schemas/${schema}`}
        : schema,
    );
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      e =>
        `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`,
    );
  }

  /** Throws naming the problems unless `value` fits `schema`. */
  assertValid(schema: string | Schema, value: unknown): void {
    const problems = this.problems(schema, value);
    if (problems.length > 0) {
      throw new Error(
        `not a valid ${typeof schema === 'string' ? schema : JSON.stringify(schema)}:\n  ${problems.join('\n  ')}\nvalue: ${JSON.stringify(value).slice(0, 2000)}`,
      );
    }
  }

  /**
   * The documented response for `status` of `method` on `path` (a template such as `/operations/{id}`), with
   * `$ref`s resolved; undefined when neither the status nor `default` is documented.
   */
  response(
    path: string,
    method: HttpMethod,
    status: number,
  ): Exclude<ResponseObject, {$ref: string}> | undefined {
    const operation = this.document.paths[path]?.[method];
    const found =
      operation?.responses[String(status)] ?? operation?.responses.default;
    if (!found) return undefined;
    if ('$ref' in found) {
      const name = found.$ref.replace('#/components/responses/', '');
      const target = this.document.components.responses[name];
      if (!target || '$ref' in target)
        throw new Error(`unresolved ${found.$ref}`);
      return target;
    }
    return found;
  }

  /**
   * Asserts that an HTTP answer is documented: its status (or `default`) is listed for the operation, and its
   * JSON body fits that response's schema (a response without content must come without a body).
   */
  assertResponse(
    path: string,
    method: HttpMethod,
    answer: {status: number; body: unknown; headers: Record<string, string>},
  ): void {
    const documented = this.response(path, method, answer.status);
    if (!documented) {
      throw new Error(
        `${method.toUpperCase()} ${path} answered ${answer.status}, which is not documented`,
      );
    }
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) {
      expectEmpty(answer);
      return;
    }
    if (!/^application\/json\b/.test(answer.headers['content-type'] ?? '')) {
      throw new Error(
        `${method.toUpperCase()} ${path} ${answer.status}: content-type ${answer.headers['content-type']}`,
      );
    }
    this.assertValid(schema, answer.body);
    for (const header of Object.keys(documented.headers ?? {})) {
      if (answer.headers[header.toLowerCase()] === undefined)
        throw new Error(`${answer.status} lacks the header ${header}`);
    }
  }

  private validatorFor(schema: Schema): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      const rewritten = JSON.parse(
        key.replaceAll('#/components/schemas/', `${ROOT}#/$defs/`),
      ) as object;
      validate = this.ajv.compile(rewritten);
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

function expectEmpty(answer: {status: number; body: unknown}): void {
  const body = answer.body;
  const empty =
    body === undefined ||
    body === '' ||
    (typeof body === 'object' &&
      body !== null &&
      Object.keys(body).length === 0);
  if (!empty)
    throw new Error(`${answer.status} should have no body: ${String(body)}`);
}
