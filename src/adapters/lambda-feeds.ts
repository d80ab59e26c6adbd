// FeedControl over the Lambda control plane: one alias of the consumer function per subscription
// (so that several subscriptions may read the same topic, and the consumer can tell them apart by
// `context.invokedFunctionArn`), and one Kafka event source mapping invoking that alias.
import {
  CreateAliasCommand,
  CreateEventSourceMappingCommand,
  DeleteAliasCommand,
  DeleteEventSourceMappingCommand,
  type LambdaClient,
  UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import {
  ConflictError,
  DependencyError,
  errorMessage,
  errorName,
  type IngressError,
  NotFoundError,
  ValidationError,
} from "../core/errors.ts";
import { buildFeedParams } from "../core/feed-params.ts";
import type { FeedRef, KafkaCluster, Subscription } from "../core/model.ts";
import { consoleAt } from "../core/outcome.ts";
import type { FeedControl } from "../core/ports.ts";
import { listedDelays, retrying, sleep } from "../core/retry.ts";

/**
 * A Lambda control-plane error in the vocabulary: NotFoundError when the mapping or alias is
 * gone, ConflictError while it is busy (a mapping still Creating or Updating, an alias in use),
 * ValidationError when AWS refused the request as invalid, DependencyError otherwise.
 */
export function lambdaError(operation: string, error: unknown): IngressError {
  const failed = `Lambda ${operation} failed: ${errorName(error)}: ${errorMessage(error)}`;
  switch (errorName(error)) {
    case "ResourceNotFoundException":
      return new NotFoundError(failed, { cause: error });
    case "ResourceInUseException":
    case "ResourceConflictException":
      return new ConflictError(failed, { cause: error });
    case "InvalidParameterValueException":
      // AWS's own explanation of what it refused; it describes our request, so it is safe to return.
      return new ValidationError(`AWS Lambda rejected ${operation}: ${errorMessage(error)}`);
    default:
      return new DependencyError(failed, { cause: error });
  }
}

/** Only a busy mapping or alias is worth another try here; other failures answer at once. */
const isBusy = (error: unknown): boolean => error instanceof ConflictError;

export interface LambdaFeedControlOptions {
  /**
   * Waits between attempts when a mapping or alias is busy (ResourceInUseException /
   * ResourceConflictException, e.g. a mapping still Creating). Default 0.5 s doubling to 8 s.
   */
  readonly retryDelaysMs?: readonly number[];
  /**
   * Waits between attempts of a pause or resume while the mapping is busy (it answers
   * ResourceInUseException while Creating or Updating); then ConflictError. Default 0.5, 1, 2 s:
   * an admin request must answer within the API Gateway timeout.
   */
  readonly toggleRetryDelaysMs?: readonly number[];
  readonly log?: (entry: Record<string, unknown>) => void;
}

const DEFAULT_RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
const DEFAULT_TOGGLE_RETRY_DELAYS_MS = [500, 1000, 2000];
const MAX_DESCRIPTION = 256;

export class LambdaFeedControl implements FeedControl {
  readonly #client: LambdaClient;
  readonly #functionName: string;
  readonly #retryDelaysMs: readonly number[];
  readonly #toggleRetryDelaysMs: readonly number[];
  readonly #log: (entry: Record<string, unknown>) => void;

  /** `consumerFunctionName`: name or ARN of the consumer function (unqualified). */
  constructor(
    client: LambdaClient,
    consumerFunctionName: string,
    options: LambdaFeedControlOptions = {},
  ) {
    this.#client = client;
    this.#functionName = consumerFunctionName;
    this.#retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.#toggleRetryDelaysMs = options.toggleRetryDelaysMs ?? DEFAULT_TOGGLE_RETRY_DELAYS_MS;
    this.#log = options.log ?? ((entry) => consoleAt(String(entry.level))(JSON.stringify(entry)));
  }

  async create(subscription: Subscription, cluster: KafkaCluster): Promise<FeedRef> {
    // Validate the mapping before anything exists on AWS.
    buildFeedParams(subscription, cluster, "validation");

    let aliasArn: string | undefined;
    try {
      const alias = await this.#client.send(
        new CreateAliasCommand({
          FunctionName: this.#functionName,
          Name: subscription.id,
          FunctionVersion: "$LATEST",
          Description: `Kafka subscription ${subscription.source} -> ${subscription.sink}`.slice(
            0,
            MAX_DESCRIPTION,
          ),
        }),
      );
      aliasArn = alias.AliasArn;
    } catch (error) {
      throw lambdaError("CreateAlias", error);
    }
    if (!aliasArn) {
      await this.#deleteAliasQuietly(subscription.id);
      throw new DependencyError("Lambda CreateAlias returned no AliasArn");
    }

    let uuid: string | undefined;
    try {
      const mapping = await this.#client.send(
        new CreateEventSourceMappingCommand(buildFeedParams(subscription, cluster, aliasArn)),
      );
      uuid = mapping.UUID;
    } catch (error) {
      await this.#deleteAliasQuietly(subscription.id);
      throw lambdaError("CreateEventSourceMapping", error);
    }
    if (!uuid) {
      await this.#deleteAliasQuietly(subscription.id);
      throw new DependencyError("Lambda CreateEventSourceMapping returned no UUID");
    }
    return { kind: "aws", eventSourceMappingUuid: uuid, functionAliasArn: aliasArn };
  }

  async remove(subscription: Subscription, feed: FeedRef): Promise<void> {
    if (feed.kind === "aws") {
      await this.#deleting("DeleteEventSourceMapping", () =>
        this.#client.send(
          new DeleteEventSourceMappingCommand({ UUID: feed.eventSourceMappingUuid }),
        ),
      );
    }
    await this.#deleting("DeleteAlias", () =>
      this.#client.send(
        new DeleteAliasCommand({ FunctionName: this.#functionName, Name: subscription.id }),
      ),
    );
  }

  /** Disables the event source mapping: polling stops, the consumer group keeps its offsets. */
  async pause(_subscription: Subscription, feed: FeedRef): Promise<void> {
    await this.#setEnabled(feed, false);
  }

  /** Enables the event source mapping again; polling restarts at the committed offsets. */
  async resume(_subscription: Subscription, feed: FeedRef): Promise<void> {
    await this.#setEnabled(feed, true);
  }

  async #setEnabled(feed: FeedRef, enabled: boolean): Promise<void> {
    if (feed.kind !== "aws") return;
    const uuid = feed.eventSourceMappingUuid;
    try {
      await this.#whileBusy(this.#toggleRetryDelaysMs, "UpdateEventSourceMapping", () =>
        this.#client.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled })),
      );
    } catch (error) {
      if (error instanceof NotFoundError) {
        throw new ConflictError(
          `the event source mapping ${uuid} of this subscription no longer exists; delete the subscription and create it again`,
        );
      }
      if (error instanceof ConflictError) {
        throw new ConflictError(
          `the event source mapping ${uuid} is busy (being created or updated, which can take about 90 s); try again later`,
        );
      }
      throw error;
    }
  }

  /** Runs a delete; "not found" counts as done, "busy" is retried with the configured waits. */
  async #deleting(operation: string, action: () => Promise<unknown>): Promise<void> {
    try {
      await this.#whileBusy(this.#retryDelaysMs, operation, action);
    } catch (error) {
      if (error instanceof NotFoundError) return;
      // Still busy after every wait: the delete failed, as any other failure does.
      if (error instanceof ConflictError)
        throw new DependencyError(error.message, { cause: error });
      throw error;
    }
  }

  /** Runs `action`, errors in the vocabulary, again after each of `delaysMs` while it is busy. */
  #whileBusy(
    delaysMs: readonly number[],
    operation: string,
    action: () => Promise<unknown>,
  ): Promise<unknown> {
    return retrying(
      async () => {
        try {
          return await action();
        } catch (error) {
          throw lambdaError(operation, error);
        }
      },
      {
        maxAttempts: delaysMs.length + 1,
        delayMs: listedDelays(delaysMs),
        sleep,
        isRetryable: isBusy,
      },
    );
  }

  async #deleteAliasQuietly(name: string): Promise<void> {
    try {
      await this.#deleting("DeleteAlias", () =>
        this.#client.send(new DeleteAliasCommand({ FunctionName: this.#functionName, Name: name })),
      );
    } catch (error) {
      this.#log({
        level: "error",
        msg: "lambda feeds: could not delete the alias of a failed subscription",
        function: this.#functionName,
        alias: name,
        error: errorMessage(error),
      });
    }
  }
}
