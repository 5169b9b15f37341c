// Limits on decoded JSON from clients (pure): nesting depth, checked without recursion.

/** Messages nested deeper than this (arrays/objects) are refused by both transports; no message we handle comes near. */
export const MAX_MESSAGE_DEPTH = 64;

/**
 * True when `value` nests arrays/objects deeper than `limit` levels (a scalar is depth 0, `{}` depth 1).
 * Iterative, so a hostile 100k-level value cannot overflow the stack; stops at the first path past the limit.
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
