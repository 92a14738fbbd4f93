import { createHash, timingSafeEqual } from 'node:crypto';
import { type Metadata } from '@grpc/grpc-js';

export const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The token of an "authorization: Bearer <token>" header, or '' when there is none. */
export function bearerToken(metadata: Metadata): string {
  const header = String(metadata.get('authorization')[0] ?? '');
  return header.startsWith('Bearer ') ? header.slice(7) : '';
}

/** Constant-time comparison of a presented secret with the expected one (hashes have equal length). */
export function tokenMatches(presented: string, expected: string): boolean {
  return presented.length > 0 && timingSafeEqual(sha256(presented), sha256(expected));
}
