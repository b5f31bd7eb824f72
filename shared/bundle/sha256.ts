import { createHash } from 'node:crypto';

/** Hex SHA-256 of bytes: the identity of a bundle. Its own module so checking a stored bundle loads no zip or YAML code. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
