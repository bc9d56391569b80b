// Deep-freezing what the verifier shares between calls (verified tokens, decoded headers, checked details).

/**
 * Freeze `value` and every object or array inside it, skipping any already frozen (a shared, already deep-frozen
 * part such as a cached `authorization_details` value is not walked again). Walks arrays by index and objects by
 * their own enumerable names, without building a list of values per object: this runs on every first-seen token.
 * The walk keeps its own stack, so any depth that fits in memory is fine: a decoded header is frozen before its
 * signature is checked, and its nesting is the sender's choice.
 */
export function deepFreeze<T>(value: T): T {
  if (!freezable(value)) return value;
  Object.freeze(value);
  // Each value on the stack is already frozen and its children not yet visited; a child is frozen when it is pushed,
  // so one shared twice (or reached again) is pushed once.
  const stack: object[] = [value];
  while (stack.length > 0) {
    const parent = stack.pop()!;
    if (Array.isArray(parent)) {
      for (let i = 0; i < parent.length; i++) push(stack, parent[i]);
    } else {
      const record = parent as Record<string, unknown>;
      for (const name in record) if (Object.hasOwn(record, name)) push(stack, record[name]);
    }
  }
  return value;
}

function freezable(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Object.isFrozen(value);
}

function push(stack: object[], child: unknown): void {
  if (freezable(child)) {
    Object.freeze(child);
    stack.push(child);
  }
}
