// Satisfiability of the `mcp_tool` constraint subset, decided exactly: for each constraint, the one value that meets
// it if any value does, checked by the evaluator itself (`checkValue`), so "satisfiable" always comes with a value the
// evaluator admits. `decide` lists a tool only when such arguments exist, so listing and calling agree.
import { checkArguments, checkValue, keywordType, type ArgumentConstraints, type Constraint, type JsonValue } from './constraints.js';

/**
 * A value that satisfies `c` whenever some value does (the closest candidate otherwise, whose violation says why none
 * does). Exact for the subset because each type's admitted set has a least element the candidate picks:
 * - `const` and `enum` admit only the values they list: the first listed value that passes the whole constraint;
 * - numbers: the least one (an integer for `type: integer`) at or above the lower bounds, which passes the upper bounds
 *   if any number does; in doubles, as the evaluator compares, so `exclusiveMinimum: a` starts at the next double;
 * - strings: `""` (only `maxLength` limits them); arrays: `[]` (only `maxItems` limits them, and `items` holds for
 *   an empty one); objects: exactly the `required` members, each its own property's closest value (or `null`);
 * - a constraint whose keywords imply two types (`maximum` and `maxLength`), or an implied type its `type` contradicts
 *   (`type: string` with `minimum`), gets a value of the implied type, which its other keyword refuses.
 */
function closestValue(c: Constraint): JsonValue {
  if (c.const !== undefined) return c.const;
  if (c.enum !== undefined) {
    for (const option of c.enum) if (checkValue(c, option).ok) return option;
    if (c.enum.length > 0) return c.enum[0]!;
  }
  const kind = kindOf(c);
  switch (kind) {
    case undefined:
    case 'null':
      return null;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'array':
      return [];
    case 'object':
      return closestObject(c);
    case 'number':
    case 'integer': {
      const n = closestNumber(c, kind === 'integer');
      return n === 0 ? 0 : n; // +0 for -0 (Math.ceil(-0.5), a bound of -0): the same to the evaluator, and JSON has no -0
    }
    default:
      return null; // an unknown type name: nothing has it
  }
}

/**
 * A value that satisfies `c`, or undefined when none does.
 *
 * @example
 * ```ts
 * witness({ minimum: 10, maximum: 5 }) // undefined
 * witness({ type: 'integer', exclusiveMinimum: 0.5, maximum: 3 }) // 1
 * ```
 */
export function witness(c: Constraint): JsonValue | undefined {
  const value = closestValue(c);
  return checkValue(c, value).ok ? value : undefined;
}

/**
 * Arguments that pass `constraints` whenever some do: every named argument (all are required) at its closest value.
 * `checkArguments` on them fails exactly when no arguments pass, and its violation names an argument none can meet.
 */
export function closestArguments(constraints: ArgumentConstraints): Record<string, JsonValue> {
  // Object.fromEntries defines own properties, so an argument named __proto__ stays an argument.
  return Object.fromEntries(Object.keys(constraints).map((name) => [name, closestValue(constraints[name]!)]));
}

/**
 * Arguments that pass `constraints`, or undefined when none do (some named argument has no admissible value).
 *
 * @example
 * ```ts
 * argumentsWitness({ amount: { maximum: 100 }, currency: { enum: ['EUR'] } }) // { amount: 100, currency: 'EUR' }
 * argumentsWitness({ amount: { exclusiveMinimum: 5, exclusiveMaximum: 5 } }) // undefined
 * ```
 */
export function argumentsWitness(constraints: ArgumentConstraints): Record<string, JsonValue> | undefined {
  const args = closestArguments(constraints);
  return checkArguments(constraints, args).ok ? args : undefined;
}

type Kind = NonNullable<Constraint['type']>;

// The type a value must have: the one its keywords imply (as the evaluator reads them), else its `type`. Two implied
// types cannot both hold; either one's value is refused by the other's keyword, which is all the candidate needs.
function kindOf(c: Constraint): Kind | undefined {
  const implied = keywordType(c);
  return implied === 'number' && c.type === 'integer' ? 'integer' : (implied ?? c.type);
}

function closestObject(c: Constraint): Record<string, JsonValue> {
  const entries: [string, JsonValue][] = [];
  for (const name of c.required ?? []) {
    // A required name `properties` does not list is free, unless additionalProperties: false forbids it (then the
    // candidate carries it and is refused: no object can both have and lack it).
    const own = c.properties !== undefined && Object.hasOwn(c.properties, name);
    entries.push([name, own ? closestValue(c.properties![name]!) : null]);
  }
  return Object.fromEntries(entries);
}

// The least number (integer when asked) the lower bounds admit; the upper bounds admit a prefix of the numbers, so
// this one passes them if any number does. Without a lower bound, the greatest the upper bounds admit; without
// either, 0. May be ±Infinity (nextUp(Number.MAX_VALUE)): JSON.parse reads 1e400 as Infinity, and the evaluator
// compares it like any number.
function closestNumber(c: Constraint, integer: boolean): number {
  const { minimum, exclusiveMinimum, maximum, exclusiveMaximum } = c;
  if (minimum !== undefined || exclusiveMinimum !== undefined) {
    // The tighter lower bound: an exclusive one at or above the inclusive one.
    if (exclusiveMinimum !== undefined && !(minimum !== undefined && minimum > exclusiveMinimum)) {
      return integer ? integerAbove(exclusiveMinimum) : nextUp(exclusiveMinimum);
    }
    return integer ? Math.ceil(minimum!) : minimum!;
  }
  if (maximum !== undefined || exclusiveMaximum !== undefined) {
    if (exclusiveMaximum !== undefined && !(maximum !== undefined && maximum < exclusiveMaximum)) {
      return integer ? -integerAbove(-exclusiveMaximum) : -nextUp(-exclusiveMaximum);
    }
    return integer ? Math.floor(maximum!) : maximum!;
  }
  return 0;
}

// The least integer-valued double above x. Past 2^52 every double is an integer and x + 1 may round back to x.
function integerAbove(x: number): number {
  const next = Math.floor(x) + 1;
  return next > x ? next : nextUp(x);
}

const float = new Float64Array(1);
const bits = new BigInt64Array(float.buffer);

// The least double above x (IEEE 754 nextUp): the evaluator compares doubles, so (a, nextUp(a)) holds none.
function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  float[0] = x;
  bits[0] = x > 0 ? bits[0]! + 1n : bits[0]! - 1n;
  return float[0];
}
