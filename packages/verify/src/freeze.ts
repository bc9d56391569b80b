// Deep-freezing what the verifier shares between calls (verified tokens, decoded headers, checked details).

/**
 * Freeze `value` and every object or array inside it, skipping any already frozen (a shared, already deep-frozen
 * part such as a cached `authorization_details` value is not walked again). Walks arrays by index and objects by
 * their own enumerable names, without building a list of values per object: this runs on every first-seen token.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    freezeChildren(value as object);
  }
  return value;
}

function freezeChildren(value: object): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) freezeChild(value[i]);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const name in record) if (Object.hasOwn(record, name)) freezeChild(record[name]);
}

function freezeChild(child: unknown): void {
  if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) {
    Object.freeze(child);
    freezeChildren(child);
  }
}
