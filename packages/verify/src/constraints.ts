// RFC 9396 `authorization_details` of type `mcp_tool`: the shape, the argument constraint subset (a decidable slice of
// JSON Schema 2020-12 with stricter semantics), value checks, and the syntactic subsumption the issuer narrows with.
// Pure and dependency-free: the issuer and every verifier use this one definition.
import { hasDuplicateMember } from './json_strict.js';

/** A JSON value as JSON.parse returns it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [name: string]: JsonValue };

/** The `type` values a constraint may name (JSON Schema 2020-12 §6.1.1; `integer` is a number with no fraction). */
export type ConstraintType = 'null' | 'boolean' | 'number' | 'integer' | 'string' | 'array' | 'object';

/**
 * One argument constraint. Stricter than JSON Schema on purpose: a numeric keyword implies `type: number`, `maxLength`
 * implies `type: string`, `maxItems`/`items` imply `type: array`, `properties`/`required`/`additionalProperties`
 * imply `type: object`; `const` and `enum` compare by JSON equality. Nested `properties` follow `required` as in
 * JSON Schema; the top-level arguments map requires every argument it names.
 */
export interface Constraint {
  type?: ConstraintType;
  const?: JsonValue;
  enum?: JsonValue[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maxLength?: number;
  maxItems?: number;
  items?: Constraint;
  properties?: Record<string, Constraint>;
  required?: string[];
  additionalProperties?: false;
}

/** A map from argument name to its constraint; every name in it is a required argument. */
export type ArgumentConstraints = Record<string, Constraint>;

/** One `mcp_tool` authorization details object (RFC 9396 §2). */
export interface McpToolDetails {
  type: 'mcp_tool';
  /** Exactly one tool server URI. */
  locations: [string];
  /** Tool names; each must also be granted by `scope`. */
  actions: string[];
  /** Constraints on the call's arguments; absent means none. */
  arguments?: ArgumentConstraints;
}

/** Why a value fails a constraint: where (a JSON Pointer, RFC 6901), which keyword, and its limit. */
export interface ConstraintViolation {
  ok: false;
  /** JSON Pointer to the failing value: `/amount`, `/lines/0/price`; `` for the value itself in `checkValue`. */
  path: string;
  /** The keyword that failed (`type` for an implied type, `required` for an absent argument or property). */
  keyword: string;
  /** The keyword's value: the maximum, the enum, the type name, the missing name. */
  limit: JsonValue;
}

export type CheckResult = { ok: true } | ConstraintViolation;

/** The one details type this package knows. */
export const MCP_TOOL_TYPE = 'mcp_tool';

// Bounds on what a request or a token may carry, so parsing and checking stay linear and small.
const MAX_DEPTH = 8;
const MAX_ENTRIES = 64; // details objects, actions, arguments, properties, enum values
const MAX_TOOL_NAME = 128;

const OK: { ok: true } = Object.freeze({ ok: true as const });

const TYPES: ReadonlySet<string> = new Set(['null', 'boolean', 'number', 'integer', 'string', 'array', 'object']);
const NUMERIC = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const;
const KEYWORDS: ReadonlySet<string> = new Set([
  'type', 'const', 'enum', ...NUMERIC, 'maxLength', 'maxItems', 'items', 'properties', 'required', 'additionalProperties',
]);
const DETAILS_FIELDS: ReadonlySet<string> = new Set(['type', 'locations', 'actions', 'arguments']);

type Parsed<T> = { ok: true; details: T } | { ok: false; reason: string };

/**
 * Validate an `authorization_details` list (RFC 9396 §2): a non-empty array of `mcp_tool` objects (see
 * `parseMcpToolDetails`) in which no (location, tool) pair appears twice. Returns the value itself, typed, or the
 * first reason it is refused; nothing unknown is ignored (RFC 9396 §5).
 *
 * @example
 * ```ts
 * import { parseAuthorizationDetails } from 'delegation-token-verify'
 *
 * const parsed = parseAuthorizationDetails(JSON.parse(form.authorization_details))
 * if (!parsed.ok) throw new InvalidAuthorizationDetails(parsed.reason)
 * ```
 */
export function parseAuthorizationDetails(value: unknown): Parsed<McpToolDetails[]> {
  // RFC 9396 §2: "authorization_details ... contains a JSON array of JSON objects".
  if (!Array.isArray(value)) return refuse('not an array');
  if (value.length === 0) return refuse('empty array');
  if (value.length > MAX_ENTRIES) return refuse('too many entries');
  const seen = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const entry = parseMcpToolDetails(value[i]);
    if (!entry.ok) return refuse(`[${i}]: ${entry.reason}`);
    for (const action of entry.details.actions) {
      const key = `${entry.details.locations[0]} ${action}`;
      // One constraint per tool and location, so which one applies is never ambiguous.
      if (seen.has(key)) return refuse(`[${i}]: action ${action} repeated for its location`);
      seen.add(key);
    }
  }
  return { ok: true, details: value as McpToolDetails[] };
}

/**
 * Parse the `authorization_details` form parameter (RFC 9396 §6: a JSON array as a string) strictly: valid JSON, no
 * member name repeated at any depth (JSON.parse would keep the last one), then `parseAuthorizationDetails`.
 *
 * @example
 * ```ts
 * import { parseAuthorizationDetailsJson } from 'delegation-token-verify'
 *
 * parseAuthorizationDetailsJson('[{"type":"mcp_tool","type":"x"}]') // { ok: false, reason: 'duplicate member name' }
 * ```
 */
export function parseAuthorizationDetailsJson(text: string): Parsed<McpToolDetails[]> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse('not JSON');
  }
  // RFC 8259 §4: names SHOULD be unique; a repeated one would let two readers see two different limits.
  if (typeof value === 'object' && value !== null && hasDuplicateMember(text)) return refuse('duplicate member name');
  return parseAuthorizationDetails(value);
}

/**
 * Validate one `mcp_tool` authorization details object: `type: "mcp_tool"`, `locations` exactly one absolute URI,
 * `actions` a non-empty list of distinct tool names, optional `arguments` (name → constraint). Unknown fields,
 * unknown keywords, `pattern` and `$ref` are refused, never ignored (RFC 9396 §5). Returns the value itself, typed.
 *
 * @example
 * ```ts
 * import { parseMcpToolDetails } from 'delegation-token-verify'
 *
 * parseMcpToolDetails({ type: 'mcp_tool', locations: ['https://billing.example/mcp'], actions: ['billing.issue_refund'],
 *   arguments: { amount: { maximum: 5000 } } }) // { ok: true, details: ... }
 * ```
 */
export function parseMcpToolDetails(value: unknown): Parsed<McpToolDetails> {
  // RFC 9396 §2: each element is an object with a `type` field.
  if (!isObject(value)) return refuse('not an object');
  if (value.type === undefined) return refuse('type missing');
  // RFC 9396 §5: an unknown authorization details type is refused.
  if (value.type !== MCP_TOOL_TYPE) return refuse('unknown type');
  for (const field of Object.keys(value)) {
    // RFC 9396 §5: unknown fields for a known type are refused.
    if (!DETAILS_FIELDS.has(field)) return refuse(`unknown field ${field}`);
  }
  const { locations, actions } = value;
  if (!Array.isArray(locations) || locations.length !== 1) return refuse('locations is not exactly one URI');
  if (!isAbsoluteUri(locations[0])) return refuse('locations is not an absolute URI');
  if (!Array.isArray(actions) || actions.length === 0) return refuse('actions is not a non-empty array');
  if (actions.length > MAX_ENTRIES) return refuse('too many actions');
  for (let i = 0; i < actions.length; i++) {
    const action: unknown = actions[i];
    if (!isToolName(action)) return refuse('actions holds an invalid tool name');
    if (actions.indexOf(action) !== i) return refuse(`action ${action} repeated`);
  }
  if (value.arguments !== undefined) {
    const reason = argumentsReason(value.arguments);
    if (reason !== undefined) return refuse(`arguments${reason}`);
  }
  return { ok: true, details: value as unknown as McpToolDetails };
}

/**
 * Validate an arguments map (argument name → constraint). Returns undefined when valid, else why not, with the
 * offending path as a JSON Pointer prefix (`/amount: unknown keyword pattern`).
 *
 * @example
 * ```ts
 * import { argumentConstraintsError } from 'delegation-token-verify'
 *
 * argumentConstraintsError({ amount: { maximum: 100, pattern: '^1' } }) // '/amount: unknown keyword pattern'
 * ```
 */
export function argumentConstraintsError(value: unknown): string | undefined {
  const reason = argumentsReason(value);
  return reason === undefined ? undefined : reason.replace(/^: /, '');
}

function argumentsReason(value: unknown): string | undefined {
  if (!isObject(value)) return ': not an object';
  const names = Object.keys(value);
  if (names.length > MAX_ENTRIES) return ': too many arguments';
  for (const name of names) {
    const reason = constraintReason(value[name], 1);
    if (reason !== undefined) return `/${pointerToken(name)}${reason}`;
  }
  return undefined;
}

// Why `value` is not a constraint in the subset, as `<pointer suffix>: <reason>`, or undefined when it is one.
function constraintReason(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return ': nested too deep';
  if (!isObject(value)) return ': constraint is not an object';
  let implied: ConstraintType | undefined;
  for (const keyword of Object.keys(value)) {
    // Issue 10 wire format: "Unknown keywords -> refused, never ignored"; `pattern` (ReDoS) and `$ref` are not in the subset.
    if (!KEYWORDS.has(keyword)) return `: unknown keyword ${keyword}`;
    const kind = impliedType(keyword);
    if (kind !== undefined) {
      if (implied !== undefined && implied !== kind) return `: ${keyword} contradicts another keyword's type`;
      implied = kind;
    }
  }
  const c = value as Record<string, unknown>;
  if (c.type !== undefined) {
    if (typeof c.type !== 'string' || !TYPES.has(c.type)) return ': type is not a supported type name';
    if (implied !== undefined && !typeFits(c.type as ConstraintType, implied)) return ': type contradicts its keywords';
  }
  if (c.const !== undefined && !isJsonValue(c.const, depth)) return ': const is not a JSON value';
  if (c.enum !== undefined) {
    if (!Array.isArray(c.enum) || c.enum.length === 0 || c.enum.length > MAX_ENTRIES) return ': enum is not a non-empty array';
    for (const option of c.enum) if (!isJsonValue(option, depth)) return ': enum holds a non-JSON value';
  }
  for (const keyword of NUMERIC) {
    if (c[keyword] !== undefined && !isFiniteNumber(c[keyword])) return `: ${keyword} is not a number`;
  }
  if (c.maxLength !== undefined && !isCount(c.maxLength)) return ': maxLength is not a non-negative integer';
  if (c.maxItems !== undefined && !isCount(c.maxItems)) return ': maxItems is not a non-negative integer';
  if (c.items !== undefined) {
    const reason = constraintReason(c.items, depth + 1);
    if (reason !== undefined) return `/items${reason}`;
  }
  if (c.properties !== undefined) {
    if (!isObject(c.properties)) return ': properties is not an object';
    const names = Object.keys(c.properties);
    if (names.length > MAX_ENTRIES) return ': too many properties';
    for (const name of names) {
      const reason = constraintReason(c.properties[name], depth + 1);
      if (reason !== undefined) return `/properties/${pointerToken(name)}${reason}`;
    }
  }
  if (c.required !== undefined) {
    if (!Array.isArray(c.required) || c.required.length > MAX_ENTRIES) return ': required is not an array of names';
    for (let i = 0; i < c.required.length; i++) {
      const name: unknown = c.required[i];
      if (typeof name !== 'string' || c.required.indexOf(name) !== i) return ': required is not an array of distinct names';
    }
  }
  // Only `false` is in the subset: a schema-valued additionalProperties would need its own subsumption rules.
  if (c.additionalProperties !== undefined && c.additionalProperties !== false) return ': additionalProperties is not false';
  return undefined;
}

/**
 * Does `value` satisfy `constraint`? The stricter-than-JSON-Schema semantics: a numeric keyword fails anything that
 * is not a number (`"99999"` fails `maximum: 100`), `maxLength` anything not a string (lengths in code points),
 * `maxItems`/`items` anything not an array, `properties`/`required`/`additionalProperties` anything not an object.
 * A deep-frozen constraint (every verified token's details are) is compiled into a fixed shape once and kept, and
 * checking a value that passes it then allocates nothing; any other constraint is compiled on each call, so a
 * change to it is always seen. The constraint must have passed `parseMcpToolDetails` or `argumentConstraintsError`.
 *
 * @example
 * ```ts
 * import { checkValue } from 'delegation-token-verify'
 *
 * checkValue({ maximum: 100 }, 250) // { ok: false, path: '', keyword: 'maximum', limit: 100 }
 * ```
 */
export function checkValue(constraint: Constraint, value: unknown): CheckResult {
  return check(compiledConstraint(constraint), value);
}

/**
 * Check a call's arguments against an arguments map: every named argument must be present (absent → keyword
 * `required`) and satisfy its constraint; arguments not named are unconstrained. `args` that is not an object fails
 * as `type: object` at the root.
 *
 * @example
 * ```ts
 * import { checkArguments } from 'delegation-token-verify'
 *
 * checkArguments({ amount: { maximum: 5000 } }, { amount: 50000 }) // { ok: false, path: '/amount', keyword: 'maximum', limit: 5000 }
 * ```
 */
export function checkArguments(constraints: ArgumentConstraints, args: unknown): CheckResult {
  const members = compiledArguments(constraints);
  if (members.length === 0) return OK;
  if (!isObject(args)) return violation('', 'type', 'object');
  for (const member of members) {
    // Issue 10: "every argument named in the map is required (absent -> refused)".
    if (!Object.hasOwn(args, member.name)) return violation('', 'required', member.name);
    const result = check(member.constraint, args[member.name]);
    if (!result.ok) return under(member.token, result);
  }
  return OK;
}

/**
 * A constraint with every keyword in a field of its own, in one fixed shape. Constraints parsed from JSON come in as
 * many shapes as keyword combinations, and reading absent keywords off them on every call is what made a check slow;
 * this shape is read the same way on every call. Built once per constraint object the verifier froze (see `compiledConstraint`).
 */
class CompiledConstraint {
  readonly type: ConstraintType | undefined;
  readonly const: JsonValue | undefined;
  readonly enum: readonly JsonValue[] | undefined;
  /** Any numeric keyword: the value must be a number. */
  readonly numeric: boolean;
  readonly minimum: number | undefined;
  readonly maximum: number | undefined;
  readonly exclusiveMinimum: number | undefined;
  readonly exclusiveMaximum: number | undefined;
  readonly maxLength: number | undefined;
  /** `maxItems` or `items`: the value must be an array. */
  readonly array: boolean;
  readonly maxItems: number | undefined;
  readonly items: CompiledConstraint | undefined;
  /** `properties`, `required` or `additionalProperties`: the value must be an object. */
  readonly object: boolean;
  readonly required: readonly string[] | undefined;
  readonly properties: readonly CompiledMember[];
  /** `additionalProperties: false`: the names `properties` allows, and no other. */
  readonly closed: ReadonlySet<string> | undefined;
  /**
   * This object, its `properties` map and every constraint inside them are frozen, so what was derived from them here
   * can never go stale (`const`, `enum` and `required` are kept by reference and read live).
   */
  readonly frozen: boolean;

  constructor(c: Constraint) {
    this.type = c.type;
    this.const = c.const;
    this.enum = c.enum;
    this.minimum = c.minimum;
    this.maximum = c.maximum;
    this.exclusiveMinimum = c.exclusiveMinimum;
    this.exclusiveMaximum = c.exclusiveMaximum;
    this.numeric = c.minimum !== undefined || c.maximum !== undefined || c.exclusiveMinimum !== undefined || c.exclusiveMaximum !== undefined;
    this.maxLength = c.maxLength;
    this.maxItems = c.maxItems;
    this.items = c.items === undefined ? undefined : compiledConstraint(c.items);
    this.array = c.maxItems !== undefined || c.items !== undefined;
    this.required = c.required;
    this.properties = c.properties === undefined ? [] : compileMembers(c.properties);
    this.closed = c.additionalProperties === false ? new Set(this.properties.map((member) => member.name)) : undefined;
    this.object = c.properties !== undefined || c.required !== undefined || c.additionalProperties !== undefined;
    this.frozen =
      Object.isFrozen(c) &&
      (c.properties === undefined || Object.isFrozen(c.properties)) &&
      (this.items === undefined || this.items.frozen) &&
      this.properties.every((member) => member.constraint.frozen);
  }
}

/** A named member of an arguments map or of `properties`, with its JSON Pointer reference token (RFC 6901). */
interface CompiledMember {
  readonly name: string;
  readonly token: string;
  readonly constraint: CompiledConstraint;
}

// Compiled forms of frozen constraints only (the verifier deep-freezes every token's details): a constraint object
// that can still change is compiled on each call instead, so a check never reads an outdated copy.
const compiledConstraints = new WeakMap<Constraint, CompiledConstraint>();
const compiledArgumentMaps = new WeakMap<ArgumentConstraints, readonly CompiledMember[]>();

function compiledConstraint(c: Constraint): CompiledConstraint {
  const known = compiledConstraints.get(c);
  if (known) return known;
  const compiled = new CompiledConstraint(c);
  if (compiled.frozen) compiledConstraints.set(c, compiled);
  return compiled;
}

function compiledArguments(constraints: ArgumentConstraints): readonly CompiledMember[] {
  const known = compiledArgumentMaps.get(constraints);
  if (known) return known;
  const members = compileMembers(constraints);
  if (Object.isFrozen(constraints) && members.every((member) => member.constraint.frozen)) compiledArgumentMaps.set(constraints, members);
  return members;
}

function compileMembers(map: Record<string, Constraint>): CompiledMember[] {
  return Object.keys(map).map((name) => ({ name, token: pointerToken(name), constraint: compiledConstraint(map[name]!) }));
}

// The value passes without a single allocation; a violation's JSON Pointer is built only on the way out of a failure.
function check(c: CompiledConstraint, value: unknown): CheckResult {
  if (c.type !== undefined && !hasType(value, c.type)) return violation('', 'type', c.type);
  if (c.const !== undefined && !jsonEqual(c.const, value)) return violation('', 'const', c.const);
  if (c.enum !== undefined && !inEnum(c.enum, value)) return violation('', 'enum', c.enum as JsonValue[]);
  if (c.numeric) {
    // A numeric keyword implies type number: a string "99999" never slips past a maximum.
    if (typeof value !== 'number') return violation('', 'type', 'number');
    if (c.minimum !== undefined && !(value >= c.minimum)) return violation('', 'minimum', c.minimum);
    if (c.maximum !== undefined && !(value <= c.maximum)) return violation('', 'maximum', c.maximum);
    if (c.exclusiveMinimum !== undefined && !(value > c.exclusiveMinimum)) return violation('', 'exclusiveMinimum', c.exclusiveMinimum);
    if (c.exclusiveMaximum !== undefined && !(value < c.exclusiveMaximum)) return violation('', 'exclusiveMaximum', c.exclusiveMaximum);
  }
  if (c.maxLength !== undefined) {
    if (typeof value !== 'string') return violation('', 'type', 'string');
    if (codePoints(value, c.maxLength) > c.maxLength) return violation('', 'maxLength', c.maxLength);
  }
  if (c.array) {
    if (!Array.isArray(value)) return violation('', 'type', 'array');
    if (c.maxItems !== undefined && value.length > c.maxItems) return violation('', 'maxItems', c.maxItems);
    if (c.items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        const result = check(c.items, value[i]);
        if (!result.ok) return under(String(i), result);
      }
    }
  }
  if (c.object) {
    if (!isObject(value)) return violation('', 'type', 'object');
    if (c.required !== undefined) {
      for (const name of c.required) if (!Object.hasOwn(value, name)) return violation('', 'required', name);
    }
    for (const member of c.properties) {
      if (!Object.hasOwn(value, member.name)) continue;
      const result = check(member.constraint, value[member.name]);
      if (!result.ok) return under(member.token, result);
    }
    if (c.closed !== undefined) {
      for (const name in value) {
        if (Object.hasOwn(value, name) && !c.closed.has(name)) return violation(`/${pointerToken(name)}`, 'additionalProperties', false);
      }
    }
  }
  return OK;
}

/** The violation of a member or element, seen from its parent: its reference token prepended to the path. */
function under(token: string, result: ConstraintViolation): ConstraintViolation {
  return violation(`/${token}${result.path}`, result.keyword, result.limit);
}

/**
 * Is constraint `a` provably at least as strict as `b` (every value satisfying `a` satisfies `b`)? A syntactic check
 * on the subset, sound but conservative: `false` when it cannot tell. A `const` or `enum` in `a` is decided exactly
 * (each value `a` admits is checked against `b`).
 *
 * @example
 * ```ts
 * import { subsumes } from 'delegation-token-verify'
 *
 * subsumes({ maximum: 100 }, { maximum: 5000 }) // true
 * subsumes({ enum: ['EUR', 'USD'] }, { const: 'EUR' }) // false
 * ```
 */
export function subsumes(a: Constraint, b: Constraint): boolean {
  // a admits at most the listed values: a ⊑ b exactly when each one a admits also satisfies b.
  if (a.const !== undefined) return !checkValue(a, a.const).ok || checkValue(b, a.const).ok;
  if (a.enum !== undefined) {
    for (const option of a.enum) if (checkValue(a, option).ok && !checkValue(b, option).ok) return false;
    return true;
  }
  if (b.const !== undefined || b.enum !== undefined) return false;
  const bType = effectiveType(b);
  if (bType === undefined) return true; // b is {}: anything
  const aType = effectiveType(a);
  if (aType === undefined || !typeFits(aType, bType)) return false;
  if (b.type !== undefined && !typeFits(aType, b.type)) return false;
  if (!numbersSubsumed(a, b)) return false;
  if (b.maxLength !== undefined && !(a.maxLength !== undefined && a.maxLength <= b.maxLength)) return false;
  if (b.maxItems !== undefined && !(a.maxItems !== undefined && a.maxItems <= b.maxItems)) return false;
  // An array constraint with maxItems 0 admits only [], which satisfies any items constraint.
  if (b.items !== undefined && a.maxItems !== 0 && !(a.items !== undefined && subsumes(a.items, b.items))) return false;
  return objectSubsumed(a, b);
}

/**
 * Is arguments map `a` at least as strict as `b`? Every argument `b` names must be named by `a` with a constraint
 * that subsumes `b`'s; `a` may name more (each extra name is one more required argument).
 *
 * @example
 * ```ts
 * import { argumentsSubsume } from 'delegation-token-verify'
 *
 * argumentsSubsume({ amount: { maximum: 100 }, currency: { const: 'EUR' } }, { amount: { maximum: 5000 } }) // true
 * ```
 */
export function argumentsSubsume(a: ArgumentConstraints, b: ArgumentConstraints): boolean {
  for (const name in b) {
    if (!Object.hasOwn(b, name)) continue;
    if (!Object.hasOwn(a, name) || !subsumes(a[name]!, b[name]!)) return false;
  }
  return true;
}

/**
 * The stricter of two constraints when one provably subsumes the other, else undefined (the caller refuses: no
 * constraint outside the subset is ever invented).
 *
 * @example
 * ```ts
 * import { narrowest } from 'delegation-token-verify'
 *
 * narrowest({ maximum: 5000 }, { maximum: 100 }) // { maximum: 100 }
 * narrowest({ maximum: 5000 }, { enum: ['EUR'] }) // undefined
 * ```
 */
export function narrowest(a: Constraint, b: Constraint): Constraint | undefined {
  if (subsumes(a, b)) return a;
  if (subsumes(b, a)) return b;
  return undefined;
}

/**
 * The narrowest of two arguments maps, argument by argument: a name in one map only is kept as it is (all named
 * arguments are required, so the maps conjoin); a name in both takes `narrowest` of the two, and the whole result is
 * undefined when any pair is incomparable. An absent map is no constraint.
 *
 * @example
 * ```ts
 * import { narrowestArguments } from 'delegation-token-verify'
 *
 * narrowestArguments({ amount: { maximum: 5000 } }, { amount: { maximum: 100 }, currency: { const: 'EUR' } })
 * // { amount: { maximum: 100 }, currency: { const: 'EUR' } }
 * ```
 */
export function narrowestArguments(a: ArgumentConstraints | undefined, b: ArgumentConstraints | undefined): ArgumentConstraints | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (argumentsSubsume(a, b)) return a;
  if (argumentsSubsume(b, a)) return b;
  const entries: [string, Constraint][] = [];
  for (const name of Object.keys(a)) {
    if (!Object.hasOwn(b, name)) entries.push([name, a[name]!]);
    else {
      const both = narrowest(a[name]!, b[name]!);
      if (both === undefined) return undefined;
      entries.push([name, both]);
    }
  }
  for (const name of Object.keys(b)) if (!Object.hasOwn(a, name)) entries.push([name, b[name]!]);
  // Object.fromEntries defines own properties, so a name like __proto__ stays an argument name.
  return Object.fromEntries(entries);
}

function numbersSubsumed(a: Constraint, b: Constraint): boolean {
  // a's tightest upper bound u (inclusive or exclusive) must be within b's each; likewise lower bounds.
  if (b.maximum !== undefined) {
    const ok = (a.maximum !== undefined && a.maximum <= b.maximum) || (a.exclusiveMaximum !== undefined && a.exclusiveMaximum <= b.maximum);
    if (!ok) return false;
  }
  if (b.exclusiveMaximum !== undefined) {
    const ok =
      (a.maximum !== undefined && a.maximum < b.exclusiveMaximum) || (a.exclusiveMaximum !== undefined && a.exclusiveMaximum <= b.exclusiveMaximum);
    if (!ok) return false;
  }
  if (b.minimum !== undefined) {
    const ok = (a.minimum !== undefined && a.minimum >= b.minimum) || (a.exclusiveMinimum !== undefined && a.exclusiveMinimum >= b.minimum);
    if (!ok) return false;
  }
  if (b.exclusiveMinimum !== undefined) {
    const ok =
      (a.minimum !== undefined && a.minimum > b.exclusiveMinimum) || (a.exclusiveMinimum !== undefined && a.exclusiveMinimum >= b.exclusiveMinimum);
    if (!ok) return false;
  }
  return true;
}

function objectSubsumed(a: Constraint, b: Constraint): boolean {
  if (b.required !== undefined) {
    for (const name of b.required) if (a.required === undefined || !a.required.includes(name)) return false;
  }
  if (b.additionalProperties === false) {
    // a must forbid every name b forbids: a closed object whose names b also lists.
    if (a.additionalProperties !== false) return false;
    if (a.properties !== undefined) {
      for (const name in a.properties) {
        if (Object.hasOwn(a.properties, name) && (b.properties === undefined || !Object.hasOwn(b.properties, name))) return false;
      }
    }
  }
  if (b.properties !== undefined) {
    for (const name in b.properties) {
      if (!Object.hasOwn(b.properties, name)) continue;
      const inA = a.properties !== undefined && Object.hasOwn(a.properties, name);
      if (inA) {
        if (!subsumes(a.properties![name]!, b.properties[name]!)) return false;
      } else if (a.additionalProperties !== false) {
        return false; // a lets the member through unconstrained; only a closed a (where it cannot appear) is stricter
      }
    }
  }
  return true;
}

// The type a constraint pins, explicitly or through its keywords; undefined when it admits every type.
function effectiveType(c: Constraint): ConstraintType | undefined {
  return c.type ?? keywordType(c);
}

/** The type a constraint's keywords imply (a numeric keyword: number, …); undefined when none does. */
export function keywordType(c: Constraint): ConstraintType | undefined {
  if (c.minimum !== undefined || c.maximum !== undefined || c.exclusiveMinimum !== undefined || c.exclusiveMaximum !== undefined) return 'number';
  if (c.maxLength !== undefined) return 'string';
  if (c.maxItems !== undefined || c.items !== undefined) return 'array';
  if (c.properties !== undefined || c.required !== undefined || c.additionalProperties !== undefined) return 'object';
  return undefined;
}

function impliedType(keyword: string): ConstraintType | undefined {
  switch (keyword) {
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return 'number';
    case 'maxLength':
      return 'string';
    case 'maxItems':
    case 'items':
      return 'array';
    case 'properties':
    case 'required':
    case 'additionalProperties':
      return 'object';
    default:
      return undefined;
  }
}

// Every value of type `narrow` is of type `wide`.
function typeFits(narrow: ConstraintType, wide: ConstraintType): boolean {
  return narrow === wide || (narrow === 'integer' && wide === 'number');
}

function hasType(value: unknown, type: ConstraintType): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return Number.isInteger(value);
    case 'string':
      return typeof value === 'string';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
  }
}

function inEnum(options: readonly JsonValue[], value: unknown): boolean {
  for (const option of options) if (jsonEqual(option, value)) return true;
  return false;
}

/** JSON equality: same type and value; arrays element by element; objects by member set, in any order. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const name in x) {
    if (!Object.hasOwn(x, name)) continue;
    count++;
    if (!Object.hasOwn(y, name) || !jsonEqual(x[name], y[name])) return false;
  }
  for (const name in y) if (Object.hasOwn(y, name)) count--;
  return count === 0;
}

// Code points (JSON Schema 2020-12 §6.3.1), counting stops once past `limit`.
function codePoints(value: string, limit: number): number {
  if (value.length <= limit) return value.length; // code points ≤ code units
  let count = 0;
  for (let i = 0; i < value.length && count <= limit; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

function isJsonValue(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  if (isObject(value)) return Object.values(value).every((v) => isJsonValue(v, depth + 1));
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

// MCP tool names: 1 to 128 characters, no whitespace or control characters.
function isToolName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TOOL_NAME && !/[\s\p{Cc}]/u.test(value);
}

// RFC 3986 §4.3: an absolute URI has a scheme; no whitespace (URL would silently strip some).
function isAbsoluteUri(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 2048 && !/[\s\p{Cc}]/u.test(value) && /^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && URL.canParse(value);
}

// RFC 6901 §3: `~` and `/` in a member name are escaped in a JSON Pointer.
function pointerToken(name: string): string {
  return name.includes('~') || name.includes('/') ? name.replaceAll('~', '~0').replaceAll('/', '~1') : name;
}

function violation(path: string, keyword: string, limit: JsonValue): ConstraintViolation {
  return { ok: false, path, keyword, limit };
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
