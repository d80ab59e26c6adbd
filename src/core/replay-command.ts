// The replay command the admin function sends the consumer function, and the consumer's reply,
// as they travel through Lambda Invoke.
import * as z from "zod/mini";
import type { DeadLetterRef } from "./dead-letters.ts";
import { InvalidCommandError } from "./errors.ts";
import { type LetterOutcome, REPLAY_BATCH_SIZE } from "./replay.ts";
import { describeIssues } from "./zod-messages.ts";

/** Longest attempt a replay command may ask for (the admin answers within API Gateway's 29 s). */
export const MAX_REPLAY_REQUEST_TIMEOUT_MS = 60_000;
/** Longest time one replay command may take. */
export const MAX_REPLAY_BUDGET_MS = 60_000;
/** Time a command naming letters may take when it does not say. */
export const DEFAULT_REPLAY_BUDGET_MS = 20_000;

/** Marks the payload; an event source mapping's event never has this field. */
export const REPLAY_COMMAND = "kafka-ingress.replay";

/**
 * On AWS the admin may not read sink secrets (its role denies them), so a replay to a service with
 * `auth` runs in the consumer, which may. The consumer reads the subscription, its service and the
 * letters from its own stores, so the command only names them (a letter of megabytes never travels
 * through Invoke's 6 MB payload limit). One command names up to REPLAY_BATCH_SIZE letters and
 * carries the time it may take, so it answers within the admin's deadline.
 */
export interface ReplayCommand {
  readonly subscriptionId: string;
  /**
   * The letters to deliver, in this order (1 to REPLAY_BATCH_SIZE); absent: only check that the
   * subscription's service can be delivered to.
   */
  readonly letters?: readonly DeadLetterRef[];
  /** Letters of one parked key: stop at the first failure (default false: go on). */
  readonly ordered?: boolean;
  /** Time the whole command may take, from when the consumer starts it. */
  readonly budgetMs?: number;
  /** Time one delivery attempt may take (the admin's REPLAY_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number;
}

/** A letter the command named, with its outcome; the reply lists them in the order of the command. */
export type NamedLetterOutcome = DeadLetterRef & LetterOutcome;

/**
 * `refused`: the replay cannot start (subscription or service gone, secret unreadable); the admin
 * answers with the matching status. `ok`: the check (no letters) passed. `results`: one per
 * named letter, in order.
 */
export type ReplayCommandReply =
  | { readonly ok: true }
  | { readonly results: readonly NamedLetterOutcome[] }
  | { readonly refused: "not_found" | "conflict"; readonly message: string };

const wireLetter = z.object({
  partitionId: z.string().check(z.minLength(1), z.maxLength(256)),
  offset: z.int().check(z.nonnegative()),
  variant: z.optional(z.string().check(z.regex(/^[0-9a-f]{8}$/))),
});

// Strict: a field this version does not know (an older or newer admin's) refuses the command
// rather than being dropped, which could turn a delivery into a mere check.
const wireCommand = z.strictObject({
  command: z.literal(REPLAY_COMMAND),
  subscriptionId: z.string().check(z.minLength(1)),
  letters: z.optional(z.array(wireLetter).check(z.minLength(1), z.maxLength(REPLAY_BATCH_SIZE))),
  ordered: z.optional(z.boolean()),
  budgetMs: z.optional(z.int().check(z.positive(), z.lte(MAX_REPLAY_BUDGET_MS))),
  requestTimeoutMs: z.optional(z.int().check(z.positive(), z.lte(MAX_REPLAY_REQUEST_TIMEOUT_MS))),
});

const wireResult = z.union([
  z.object({ ...wireLetter.shape, outcome: z.literal("failed"), reason: z.string() }),
  z.object({
    ...wireLetter.shape,
    outcome: z.enum(["delivered", "deferred", "skipped", "gone"]),
  }),
]);

const wireReply = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ results: z.array(wireResult) }),
  z.object({ refused: z.enum(["not_found", "conflict"]), message: z.string() }),
]);

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
    ...(command.budgetMs === undefined ? {} : { budgetMs: command.budgetMs }),
    ...(command.ordered === undefined ? {} : { ordered: command.ordered }),
    ...(command.letters === undefined
      ? {}
      : {
          letters: command.letters.map(({ partitionId, offset }) => ({ partitionId, offset })),
        }),
  };
}

export function decodeReplayCommand(payload: unknown): ReplayCommand {
  const parsed = wireCommand.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidCommandError(
      `invalid replay command: ${describeIssues(parsed.error, "(payload)")}`,
    );
  }
  const { subscriptionId, letters, ordered, budgetMs, requestTimeoutMs } = parsed.data;
  return {
    subscriptionId,
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    ...(budgetMs === undefined ? {} : { budgetMs }),
    ...(ordered === undefined ? {} : { ordered }),
    ...(letters === undefined
      ? {}
      : {
          letters: letters.map(({ partitionId, offset, variant }) =>
            variant === undefined ? { partitionId, offset } : { partitionId, offset, variant },
          ),
        }),
  };
}

export function decodeReplayCommandReply(payload: unknown): ReplayCommandReply {
  const parsed = wireReply.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidCommandError(
      `invalid replay reply: ${describeIssues(parsed.error, "(payload)")}`,
    );
  }
  return parsed.data as ReplayCommandReply;
}
