// The payload the admin function sends the consumer function to deliver one dead letter on
// replay, and the consumer's reply. On AWS the admin may not read sink secrets (its role denies
// them), so a replay to a service with `auth` runs in the consumer, which may; the consumer reads
// the subscription, its service and the letter from its own stores, so the payload only names
// them (a letter of megabytes never travels through Invoke's 6 MB payload limit).
import * as z from "zod/mini";
import type { DeadLetterRef } from "./dead-letters.ts";
import "./zod-messages.ts";

/** Longest attempt a replay command may ask for (the admin answers within API Gateway's 29 s). */
export const MAX_REPLAY_REQUEST_TIMEOUT_MS = 60_000;

/** Marks the payload; an event source mapping's event never has this field. */
export const REPLAY_COMMAND = "kafka-ingress.replay";

export interface ReplayCommand {
  readonly subscriptionId: string;
  /** The letter to deliver; absent: only check that the subscription's service can be
   * delivered to. */
  readonly letter?: DeadLetterRef;
  /** Time one delivery attempt may take (the admin's REPLAY_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
}

/**
 * `refused`: the replay cannot start (subscription or service gone, secret unreadable); the admin
 * answers with the matching status. Otherwise the outcome of delivering the record.
 */
export type ReplayReply =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string }
  | { readonly refused: "not_found" | "conflict"; readonly message: string };

export class InvalidReplayCommandError extends Error {
  override readonly name = "InvalidReplayCommandError";
}

const wireLetter = z.object({
  partitionId: z.string().check(z.minLength(1)),
  offset: z.int().check(z.nonnegative()),
});

const wireCommand = z.object({
  command: z.literal(REPLAY_COMMAND),
  subscriptionId: z.string().check(z.minLength(1)),
  letter: z.optional(wireLetter),
  requestTimeoutMs: z.optional(z.int().check(z.positive(), z.lte(MAX_REPLAY_REQUEST_TIMEOUT_MS))),
});

const wireReply = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), reason: z.string() }),
  z.object({ refused: z.enum(["not_found", "conflict"]), message: z.string() }),
]);

const issues = (error: z.core.$ZodError) =>
  error.issues.map((i) => `${i.path.join(".") || "(payload)"}: ${i.message}`).join("; ");

/** True for a replay command (whatever its validity), false for anything else (ESM events). */
export function isReplayCommand(payload: unknown): boolean {
  return (
    typeof payload === "object" &&
    payload !== null &&
    (payload as { command?: unknown }).command === REPLAY_COMMAND
  );
}

export function encodeReplayCommand(command: ReplayCommand): Record<string, unknown> {
  return {
    command: REPLAY_COMMAND,
    subscriptionId: command.subscriptionId,
    ...(command.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: command.requestTimeoutMs }),
    ...(command.letter === undefined
      ? {}
      : { letter: { partitionId: command.letter.partitionId, offset: command.letter.offset } }),
  };
}

export function decodeReplayCommand(payload: unknown): ReplayCommand {
  const parsed = wireCommand.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidReplayCommandError(`invalid replay command: ${issues(parsed.error)}`);
  }
  const { subscriptionId, letter, requestTimeoutMs } = parsed.data;
  return {
    subscriptionId,
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    ...(letter === undefined ? {} : { letter }),
  };
}

export function decodeReplayReply(payload: unknown): ReplayReply {
  const parsed = wireReply.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidReplayCommandError(`invalid replay reply: ${issues(parsed.error)}`);
  }
  return parsed.data;
}
