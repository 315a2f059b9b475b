/**
 * Canonical encoding: the one byte string an ACU (or any plain value) hashes and signs to.
 *
 * It is JSON with object keys sorted by UTF-16 code unit order, no whitespace, strings escaped as
 * JSON.stringify escapes them, and only safe integers as numbers. Floats, undefined, functions,
 * NaN and cyclic values are rejected: two sites must never disagree on the bytes of one value.
 */
import { assert } from '../errors.js';

/** A value the canonical encoding accepts. */
export type CanonicalValue =
  | null
  | boolean
  | number
  | string
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue };

/** Encode `value` canonically as a string (UTF-8 encode it for the bytes). */
export function canonicalString(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, 0);
  return parts.join('');
}

/** Encode `value` canonically as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalString(value));
}

const depthMax = 64;

function write(value: unknown, out: string[], depth: number): void {
  assert(depth < depthMax, 'canonical encoding: value nested too deeply');
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      assert(Number.isSafeInteger(value), `canonical encoding: not a safe integer: ${value}`);
      out.push(String(value));
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'object':
      if (Array.isArray(value)) {
        writeArray(value, out, depth);
      } else {
        writeObject(value as Record<string, unknown>, out, depth);
      }
      return;
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      assert(false, `canonical encoding: unsupported type ${typeof value}`);
  }
}

function writeArray(value: readonly unknown[], out: string[], depth: number): void {
  out.push('[');
  for (let i = 0; i < value.length; i += 1) {
    if (i > 0) out.push(',');
    write(value[i], out, depth + 1);
  }
  out.push(']');
}

function writeObject(value: Record<string, unknown>, out: string[], depth: number): void {
  assert(Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null,
    'canonical encoding: only plain objects are encoded');
  const keys = Object.keys(value).sort();
  out.push('{');
  let first = true;
  for (const key of keys) {
    const field = value[key];
    assert(field !== undefined, `canonical encoding: field '${key}' is undefined`);
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(key), ':');
    write(field, out, depth + 1);
  }
  out.push('}');
}
