// The product's error vocabulary, and the one place that says which failures are worth another
// try: every error class the code throws on purpose is here, each terminal or retryable.
// Adapters turn SDK errors into these; the admin API maps them to status codes in one place and
// the consumer to batch outcomes in another.

/** What an error may carry beyond `cause`: the Restate error code the admin API shows. */
export interface IngressErrorOptions extends ErrorOptions {
  /** Restate's code for the same failure (`META0009`, …), shown as `restate_code`. */
  readonly restateCode?: string;
}

/** Base of every error the product throws on purpose. */
export abstract class IngressError extends Error {
  /** The same request may succeed later (storage throttled, state changed meanwhile, …). */
  abstract readonly retryable: boolean;
  /** Restate's code for this failure, where Restate has one. */
  readonly restateCode: string | undefined;
  constructor(message?: string, options?: IngressErrorOptions) {
    super(message, options);
    this.restateCode = options?.restateCode;
  }
}

/** The Restate code of anything thrown; undefined for errors that have none. */
export function restateCodeOf(error: unknown): string | undefined {
  return error instanceof IngressError ? error.restateCode : undefined;
}

/** Whether `error` is worth another try: only the product's own retryable errors are. */
export function isRetryable(error: unknown): boolean {
  return error instanceof IngressError && error.retryable;
}

// Read by property rather than `instanceof Error`, so that errors from another realm (an SDK's
// own copy of Error, a worker) are described the same way.

/** The message of anything thrown, for logs and failure reasons. */
export function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" ? message : String(error);
}

/** The name of anything thrown (`ResourceNotFoundException`, …); "Error" when it has none. */
export function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return typeof name === "string" ? name : "Error";
}

/** `<name>: <message>` of a thrown error, as failure reasons naming an AWS error show it. */
export function errorText(error: unknown): string {
  return typeof error === "object" && error !== null
    ? `${errorName(error)}: ${errorMessage(error)}`
    : String(error);
}

// ---- terminal: the same input fails the same way until someone changes it ----

/** Input that can never be accepted as it is (an admin request, a command, a stored value). */
export class ValidationError extends IngressError {
  override readonly name: string = "ValidationError";
  readonly retryable = false;
}

/** The event does not have the shape of a Kafka ESM event; nothing in it can be trusted. */
export class MalformedEventError extends ValidationError {
  override readonly name = "MalformedEventError";
}

/** A stored progress entry cannot be read back. */
export class ProgressDecodeError extends ValidationError {
  override readonly name = "ProgressDecodeError";
}

/** A command between our own functions (replay, token check) or its reply cannot be read. */
export class InvalidCommandError extends ValidationError {
  override readonly name = "InvalidCommandError";
}

/** A cluster setting the local Kafka client cannot honour. */
export class KafkaConfigError extends ValidationError {
  override readonly name = "KafkaConfigError";
}

/** A request method the addressed resource does not answer; `allowed` lists those it does. */
export class MethodNotAllowedError extends ValidationError {
  override readonly name = "MethodNotAllowedError";
  readonly allowed: readonly string[];
  constructor(method: string, allowed: readonly string[]) {
    super(`method ${method} is not allowed here; allowed: ${allowed.join(", ")}`);
    this.allowed = allowed;
  }
}

/** A request body larger than the API accepts. */
export class BodyTooLargeError extends ValidationError {
  override readonly name = "BodyTooLargeError";
}

/** A request body of a content type the API does not read. */
export class UnsupportedContentTypeError extends ValidationError {
  override readonly name = "UnsupportedContentTypeError";
}

export class NotFoundError extends IngressError {
  override readonly name: string = "NotFoundError";
  readonly retryable = false;
}

/** The event cannot be matched to a subscription, service or handler: retrying will not help
 * until the catalog or the event source mapping is fixed. */
export class SubscriptionResolutionError extends NotFoundError {
  override readonly name = "SubscriptionResolutionError";
}

export class AlreadyExistsError extends IngressError {
  override readonly name = "AlreadyExistsError";
  readonly retryable = false;
}

/** The endpoint's host or address is refused by the endpoint policy: terminal for the record. */
export class EndpointRefusedError extends IngressError {
  override readonly name = "EndpointRefusedError";
  readonly retryable = false;
  readonly code = "ERR_ENDPOINT_REFUSED";
}

/** What this deployment was not given the means to do (e.g. no dead-letter store). */
export class NotSupportedError extends IngressError {
  override readonly name = "NotSupportedError";
  readonly retryable = false;
}

// ---- retryable: the same request may succeed later ----

/** The entity exists but cannot be changed now: it changed meanwhile, is busy, or is in use. */
export class ConflictError extends IngressError {
  override readonly name = "ConflictError";
  readonly retryable = true;
}

/** A dependency (storage, control plane, a Restate admin API) failed; the message is safe to
 * log, not to return. */
export class DependencyError extends IngressError {
  override readonly name: string = "DependencyError";
  readonly retryable = true;
}

/** A dependency failed and the operation stopped; unlike DependencyError's, the message is
 * written for the API caller (what failed, what is left, what to do) and safe to return. */
export class DependencyFailedError extends DependencyError {
  override readonly name: string = "DependencyFailedError";
}

/** A Restate admin API could not be read, or answered something unusable. */
export class RestateAdminError extends DependencyFailedError {
  override readonly name = "RestateAdminError";
}

/** The local Kafka feed failed or could not start; the message names the reason. */
export class KafkaFeedError extends DependencyError {
  override readonly name = "KafkaFeedError";
  /** The topic does not exist yet: retry soon (it is likely being created). */
  readonly topicMissing: boolean;
  constructor(message: string, options: { cause: unknown; topicMissing: boolean }) {
    super(message, { cause: options.cause });
    this.topicMissing = options.topicMissing;
  }
}

/** A schema registry could not be reached or answered an error other than "not found". */
export class SchemaRegistryUnavailableError extends DependencyError {
  override readonly name = "SchemaRegistryUnavailableError";
}

/** A record part the schema registry cannot decode: terminal for that record, with the event
 * source mapping's reason code. */
export class SchemaDecodeError extends IngressError {
  override readonly name = "SchemaDecodeError";
  readonly retryable = false;
  readonly code: "SCHEMA_NOT_FOUND" | "DESERIALIZATION_ERROR";
  constructor(code: SchemaDecodeError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

/** A secret cannot be read or holds no usable token. The message names the ARN, never a value.
 * Retryable: the secret may be fixed or become readable before the batch comes back. */
export class SecretUnavailableError extends IngressError {
  override readonly name = "SecretUnavailableError";
  readonly retryable = true;
  readonly secretRef: string;
  constructor(secretRef: string, message: string) {
    super(message);
    this.secretRef = secretRef;
  }
}

/** How the records of a batch ended (see outcome.ts). */
export interface OutcomeCounts {
  readonly total: number;
  readonly delivered: number;
  readonly terminal: number;
  readonly failed: number;
  readonly notAttempted: number;
}

/** Thrown so that the event source retries the whole batch (no partial batch responses). */
export class BatchRetryError extends IngressError {
  override readonly name = "BatchRetryError";
  readonly retryable = true;
  readonly counts: OutcomeCounts;
  constructor(message: string, counts: OutcomeCounts) {
    super(message);
    this.counts = counts;
  }
}
