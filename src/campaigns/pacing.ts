import { PIECE_SIZE } from "../messaging/send";

/** Queues delay a message at most this long. */
export const MAX_DELAY_SECONDS = 12 * 3600;

/**
 * Targets per piece at a send rate: the largest divisor of the rate up to PIECE_SIZE, so that
 * a minute holds a whole number of pieces. No rate: full pieces.
 */
export function pieceSizeFor(rate: number | null): number {
  if (rate === null) return PIECE_SIZE;
  for (let size = Math.min(PIECE_SIZE, rate); size > 1; size--) if (rate % size === 0) return size;
  return 1;
}

/**
 * The first slot of the next piece: slots are numbered from the start of the send, one per
 * target, and each piece starts on a multiple of its size (a short piece leaves its slots
 * unused). So any minute's slots `[k·rate, (k+1)·rate)` hold whole pieces, whose targets add up
 * to `rate` at most.
 */
export function alignSlot(slot: number, size: number): number {
  return Math.ceil(slot / size) * size;
}

/** When the piece starting at `slot` is due: `slot / rate` minutes after the send started; no rate: at once. */
export function dueAt(startedAt: number, slot: number, rate: number | null): number {
  return rate === null ? Number.NEGATIVE_INFINITY : startedAt + Math.floor((slot * 60_000) / rate);
}

/** Whole seconds from `now` until `due` (never early), within what a queue can delay. */
export function delayUntil(due: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((due - now) / 1000)));
}

/**
 * Profiles one page reads at a rate: about six hours of sending at most (one installation a
 * profile), so the delays of a page's pieces stay within what a queue can hold.
 */
export function pageLimitFor(rate: number | null, max: number): number {
  return rate === null ? max : Math.max(1, Math.min(max, rate * 360));
}
