import type { ChordSpec, PublishItem } from '../transport/transport.interface.js';

/** One outbox row: what one publish call puts in the broker (chord states first, then messages). */
export interface OutboxPayload {
  items: PublishItem[];
  chords: ChordSpec[];
}

export function writeOutboxPayload(p: OutboxPayload): string {
  return JSON.stringify(p.chords.length ? p : { items: p.items });
}

/** Parses a row's payload (written by this package; checked for shape, not trusted blindly). */
export function readOutboxPayload(text: string): OutboxPayload {
  const p = JSON.parse(text) as Partial<OutboxPayload>;
  if (!p || !Array.isArray(p.items) || (p.chords !== undefined && !Array.isArray(p.chords)))
    throw new Error('outbox row: payload is not { items, chords }');
  return { items: p.items, chords: p.chords ?? [] };
}
