// Policy argument constraints (issue 10): a rule's per-tool `arguments` maps, validated at boot, with `${subject.<claim>}`
// references resolved against the subject at issue time.
import { argumentConstraintsError, type ArgumentConstraints } from 'delegation-token-verify';

/** `${subject.<claim>}`: the whole string, a top-level claim name. */
const REFERENCE = /^\$\{subject\.([A-Za-z0-9_-]{1,128})\}$/;

/** A claim value a reference may resolve to: a scalar, so the constraint stays in the subset. */
type Scalar = string | number | boolean;

/** Why a rule's `arguments` (tool name -> arguments map) is not valid config, or undefined. */
export function ruleArgumentsError(toolArguments: Record<string, unknown>, scopes: readonly string[]): string | undefined {
  for (const [tool, args] of Object.entries(toolArguments)) {
    if (!scopes.includes(tool)) return `${tool}: not one of the rule's scopes`;
    const error = argumentConstraintsError(args);
    if (error !== undefined) return `${tool}${error.startsWith('/') ? '' : ': '}${error}`;
    const bad = badReference(args);
    if (bad !== undefined) return `${tool}: ${JSON.stringify(bad)} is not a \${subject.<claim>} reference`;
  }
  return undefined;
}

// A string containing `${` anywhere that is not exactly one reference inside a const or enum value.
function badReference(value: unknown, inValue = false): string | undefined {
  if (typeof value === 'string') return value.includes('${') && !(inValue && REFERENCE.test(value)) ? value : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const bad = badReference(child, inValue || (!Array.isArray(value) && (key === 'const' || key === 'enum')));
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** Whether an arguments map holds a reference (checked once per rule, so maps without one are used as they are). */
export function hasReference(value: unknown): boolean {
  if (typeof value === 'string') return REFERENCE.test(value);
  if (typeof value !== 'object' || value === null) return false;
  for (const child of Object.values(value)) if (hasReference(child)) return true;
  return false;
}

/** Thrown when a reference names a claim the subject does not carry as a scalar. */
export class UnresolvedReference extends Error {
  override name = 'UnresolvedReference';
}

/**
 * The arguments map with every `${subject.<claim>}` replaced by the subject's claim value (a string, finite number or
 * boolean). Issue 10: "a reference that cannot be resolved refuses the exchange": throws UnresolvedReference.
 */
export function resolveReferences(args: ArgumentConstraints, claims: Readonly<Record<string, unknown>>): ArgumentConstraints {
  return resolve(args, claims) as ArgumentConstraints;
}

function resolve(value: unknown, claims: Readonly<Record<string, unknown>>): unknown {
  if (typeof value === 'string') {
    const match = REFERENCE.exec(value);
    if (!match) return value;
    const name = match[1]!;
    const claim = Object.hasOwn(claims, name) ? claims[name] : undefined;
    if (!isScalar(claim)) throw new UnresolvedReference(name);
    return claim;
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, claims));
  if (typeof value === 'object' && value !== null) {
    // Object.fromEntries defines own properties: an argument named __proto__ stays an argument.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, claims)]));
  }
  return value;
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}
