/**
 * Reads the Terraform configuration in `infra/` as data, for tests that hold it to the code and to its security
 * rules. `@cdktf/hcl2json` (a WebAssembly build of hcl2json) parses each `.tf` file offline into the JSON form of
 * Terraform: blocks become arrays, expressions become `${...}` strings.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join} from 'node:path';

/**
 * Loaded untyped on purpose: the package's declarations reference the DOM library, which would then type
 * `fetch` bodies in every file of the test program as DOM streams instead of Node's.
 */
const hcl2json = createRequire(__filename)('@cdktf/hcl2json') as {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
};

export const REPO_ROOT = join(__dirname, '..', '..');
export const INFRA_DIR = join(REPO_ROOT, 'infra');

/** One block's body: attributes, and nested blocks as arrays of bodies. */
export type Body = Record<string, unknown>;

/** A resource or data source, with where it is declared. */
export interface Declared {
  type: string;
  name: string;
  file: string;
  body: Body;
}

export interface TerraformConfig {
  files: Map<string, string>;
  resources: Declared[];
  data: Declared[];
  variables: Map<string, Body>;
  outputs: Map<string, Body>;
  locals: Map<string, unknown>;
  /** Every top-level block but the `variable` ones, as parsed. */
  nonVariableBlocks: unknown[];
}

type Parsed = Record<string, unknown>;

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function firstBody(value: unknown): Body {
  return asRecord(Array.isArray(value) ? value[0] : value);
}

/** Parses every `infra/*.tf` file. */
export async function loadTerraform(dir = INFRA_DIR): Promise<TerraformConfig> {
  const config: TerraformConfig = {
    files: new Map(),
    resources: [],
    data: [],
    variables: new Map(),
    outputs: new Map(),
    locals: new Map(),
    nonVariableBlocks: [],
  };
  const names = readdirSync(dir)
    .filter(name => name.endsWith('.tf'))
    .sort();
  for (const file of names) {
    const text = readFileSync(join(dir, file), 'utf8');
    config.files.set(file, text);
    const parsed: Parsed = await hcl2json.parse(file, text);
    for (const [kind, value] of Object.entries(parsed)) {
      if (kind !== 'variable') config.nonVariableBlocks.push(value);
      if (kind === 'resource' || kind === 'data') {
        const target = kind === 'resource' ? config.resources : config.data;
        for (const [type, byName] of Object.entries(asRecord(value))) {
          for (const [name, body] of Object.entries(asRecord(byName))) {
            target.push({type, name, file, body: firstBody(body)});
          }
        }
      } else if (kind === 'variable' || kind === 'output') {
        const target = kind === 'variable' ? config.variables : config.outputs;
        for (const [name, body] of Object.entries(asRecord(value)))
          target.set(name, firstBody(body));
      } else if (kind === 'locals') {
        for (const block of Array.isArray(value) ? value : [value]) {
          for (const [name, local] of Object.entries(asRecord(block)))
            config.locals.set(name, local);
        }
      }
    }
  }
  return config;
}

/** The resources of a type. */
export function resourcesOf(config: TerraformConfig, type: string): Declared[] {
  return config.resources.filter(resource => resource.type === type);
}

/** The one resource `type.name`; throws when it is missing. */
export function resource(
  config: TerraformConfig,
  type: string,
  name: string,
): Body {
  const found = config.resources.find(
    entry => entry.type === type && entry.name === name,
  );
  if (!found) throw new Error(`infra/ declares no resource ${type}.${name}`);
  return found.body;
}

/** The first (only) body of nested block `name`, or an empty body. */
export function block(body: Body, name: string): Body {
  return firstBody(body[name]);
}

/** Every body of nested block `name`. */
export function blocks(body: Body, name: string): Body[] {
  const value = body[name];
  return Array.isArray(value) ? value.map(asRecord) : [];
}

/** Every string anywhere in `value` (attribute values, list items, and object keys). */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => [
      key,
      ...strings(inner),
    ]);
  }
  return [];
}

/** The names of the input variables an expression (or any string in a value) refers to. */
export function variableReferences(value: unknown): Set<string> {
  const names = new Set<string>();
  for (const text of strings(value)) {
    for (const match of text.matchAll(/\bvar\.([A-Za-z_][A-Za-z0-9_-]*)/g))
      names.add(match[1]);
  }
  return names;
}

/** True for resources that grant an IAM role. */
export function isIamGrant(type: string): boolean {
  return /_iam_(member|binding|policy)$/.test(type);
}

/** The principal expression(s) an IAM resource grants to. */
export function grantees(body: Body): string[] {
  return [...strings(body.member), ...strings(body.members)];
}

/**
 * The environment a Cloud Function is deployed with, as a map of expressions: its literal map, or `merge()` of
 * `local.X` maps and literal maps (the poller's environment is one local both functions that poll use).
 */
export function environmentOf(
  config: TerraformConfig,
  functionName: string,
): Body {
  const value = block(
    resource(config, 'google_cloudfunctions2_function', functionName),
    'service_config',
  ).environment_variables;
  return resolveMap(config, value);
}

function resolveMap(config: TerraformConfig, value: unknown): Body {
  if (typeof value !== 'string') return value as Body;
  const fromLocals = [...value.matchAll(/\blocal\.(\w+)/g)].map(([, name]) =>
    resolveMap(config, config.locals.get(name)),
  );
  const literal = Object.fromEntries(
    [...value.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.+?)\s*$/gm)].map(
      ([, key, expression]) => [key, `\${${expression}}`],
    ),
  );
  return Object.assign({}, ...fromLocals, literal);
}
