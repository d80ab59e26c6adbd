// The payload the admin function sends the consumer function to deliver one dead letter on
// replay, and the consumer's reply. On AWS the admin may not read sink secrets (its role denies
// them), so a replay to a service with `auth` runs in the consumer, which may; the consumer reads
// the subscription and its service from its own catalog, so the payload names only the
// subscription and carries the record.
import * as z from "zod/mini";
import type { DecodedRecord } from "./event.ts";
import "./zod-messages.ts";

/** Marks the payload; an event source mapping's event never has this field. */
export const REPLAY_COMMAND = "kafka-ingress.replay";

export interface ReplayCommand {
  readonly subscriptionId: string;
  /** Absent: only check that the subscription's service can be delivered to. */
  readonly record?: DecodedRecord;
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

const base64 = z.nullable(z.string());

const wireRecord = z.object({
  topic: z.string(),
  partition: z.int().check(z.nonnegative()),
  offset: z.int().check(z.nonnegative()),
  timestamp: z.number(),
  timestampType: z.string(),
  key: base64,
  value: base64,
  headers: z.array(z.tuple([z.string(), z.string()])),
});

const wireCommand = z.object({
  command: z.literal(REPLAY_COMMAND),
  subscriptionId: z.string().check(z.minLength(1)),
  record: z.optional(wireRecord),
  requestTimeoutMs: z.optional(z.int().check(z.positive())),
});

const wireReply = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), reason: z.string() }),
  z.object({ refused: z.enum(["not_found", "conflict"]), message: z.string() }),
]);

const toBase64 = (bytes: Uint8Array | null) =>
  bytes === null
    ? null
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
const fromBase64 = (text: string | null) =>
  text === null ? null : new Uint8Array(Buffer.from(text, "base64"));

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
  const { record } = command;
  return {
    command: REPLAY_COMMAND,
    subscriptionId: command.subscriptionId,
    ...(command.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: command.requestTimeoutMs }),
    ...(record === undefined
      ? {}
      : {
          record: {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            timestampType: record.timestampType,
            key: toBase64(record.key),
            value: toBase64(record.value),
            headers: record.headers.map(([name, value]) => [name, toBase64(value) ?? ""]),
          },
        }),
  };
}

export function decodeReplayCommand(payload: unknown): ReplayCommand {
  const parsed = wireCommand.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidReplayCommandError(`invalid replay command: ${issues(parsed.error)}`);
  }
  const { subscriptionId, record, requestTimeoutMs } = parsed.data;
  const timeout = requestTimeoutMs === undefined ? {} : { requestTimeoutMs };
  if (record === undefined) return { subscriptionId, ...timeout };
  return {
    subscriptionId,
    ...timeout,
    record: {
      ...record,
      key: fromBase64(record.key),
      value: fromBase64(record.value),
      headers: record.headers.map(([name, value]) => [name, fromBase64(value) ?? new Uint8Array()]),
    },
  };
}

export function decodeReplayReply(payload: unknown): ReplayReply {
  const parsed = wireReply.safeParse(payload);
  if (!parsed.success) {
    throw new InvalidReplayCommandError(`invalid replay reply: ${issues(parsed.error)}`);
  }
  return parsed.data;
}
