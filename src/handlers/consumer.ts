// Lambda entry point of the consumer, invoked by the Kafka event source mapping. Thin: build the
// consumer once per container (cold start), hand it each batch, log what escapes.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoAdminStore } from "../adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../adapters/dynamo/progress-store.ts";
import { createHttpSink } from "../adapters/http-sink.ts";
import { secretsManagerResolver } from "../adapters/secrets-manager.ts";
import {
  type ConsumerSettings,
  createConsumer,
  type InvocationContext,
  recordLimits,
} from "../app/consumer.ts";
import type { ReliabilityStores } from "../app/reliability-flow.ts";
import { createReplayCommandRunner } from "../app/replay-command-runner.ts";
import { createReplayDeliveries } from "../app/replay-delivery.ts";
import { createTokenCheckRunner } from "../app/token-check-runner.ts";
import { consumerConfig } from "../config.ts";
import type { SinkRequest } from "../core/invocation.ts";
import { type MetricsWriter, writeEmfToStdout } from "../core/metrics.ts";
import { type BatchResponse, consoleLogger, type Logger, logJson } from "../core/outcome.ts";
import type { CatalogReader } from "../core/ports.ts";
import { isReplayCommand, type ReplayReply } from "../core/replay-command.ts";
import type { Deliver } from "../core/retry.ts";
import type { SecretResolver } from "../core/secrets.ts";
import { isTokenCheckCommand, type TokenCheckReply } from "../core/token-check-command.ts";

export type ConsumerHandler = (
  event: unknown,
  context: InvocationContext,
) => Promise<BatchResponse | undefined>;

export interface ConsumerHandlerDeps {
  readonly catalog: CatalogReader;
  readonly config: ConsumerSettings;
  /** Defaults to an HTTP sink (undici) sized from the config, checking SERVICE_ENDPOINT_ALLOW. */
  readonly deliver?: Deliver<SinkRequest>;
  /** Settled offsets and dead letters (see createConsumer). */
  readonly reliability?: ReliabilityStores;
  /** Bearer tokens of services that declare `auth` (Secrets Manager on AWS, LOCAL_SECRETS locally). */
  readonly secrets?: SecretResolver;
  readonly log?: Logger;
  /** Where the per-batch EMF line goes (see ConsumerDeps.metrics). */
  readonly metrics?: MetricsWriter;
  readonly now?: () => number;
  /** See ConsumerDeps.requireAlias (on in the Lambda, off for tests, `sam local` and locally). */
  readonly requireAlias?: boolean;
}

/**
 * Dead letters named by the admin function (core/replay-command.ts); `context` cuts the command's
 * time to what the invocation has left.
 */
export type ReplayCommandHandler = (
  payload: unknown,
  context?: InvocationContext,
) => Promise<ReplayReply>;

/** Whether a sink token may go to an endpoint, asked by the admin (core/token-check-command.ts). */
export type TokenCheckHandler = (payload: unknown) => Promise<TokenCheckReply>;

/** The handler over explicit dependencies: for tests and the local stack. */
export function createConsumerHandler(deps: ConsumerHandlerDeps): ConsumerHandler {
  return createConsumerFunction(deps).batch;
}

/**
 * What the consumer function is invoked for: batches from its event source mappings, and, on
 * behalf of the admin function (which may not read sink tokens), replays of dead letters and
 * checks of where a token may go.
 */
export function createConsumerFunction(deps: ConsumerHandlerDeps): {
  readonly batch: ConsumerHandler;
  readonly replay: ReplayCommandHandler;
  readonly checkToken: TokenCheckHandler;
} {
  const log = deps.log ?? consoleLogger;
  const deliver =
    deps.deliver ??
    createHttpSink({
      connections: deps.config.MAX_CONCURRENCY,
      requestTimeoutMs: deps.config.REQUEST_TIMEOUT_MS,
      ...(deps.config.SERVICE_ENDPOINT_ALLOW
        ? { endpointAllow: deps.config.SERVICE_ENDPOINT_ALLOW }
        : {}),
    }).deliver;
  const deadLetters = deps.reliability?.deadLetters;
  const runReplay = createReplayCommandRunner({
    catalog: deps.catalog,
    deadLetters,
    replays: (requestTimeoutMs) =>
      createReplayDeliveries({
        catalog: deps.catalog,
        deadLetters: deadLetters ?? { whole: async (letter) => letter },
        requestTimeoutMs: requestTimeoutMs ?? deps.config.REQUEST_TIMEOUT_MS,
        sink: { deliver, close: async () => {} },
        ...(deps.secrets ? { secrets: deps.secrets } : {}),
        limits: recordLimits(deps.config),
      }),
    log,
  });
  const replay: ReplayCommandHandler = (payload, context) =>
    runReplay(
      payload,
      context === undefined
        ? undefined
        : context.getRemainingTimeInMillis() - deps.config.DEADLINE_MARGIN_MS,
    );
  const consumer = createConsumer({
    catalog: deps.catalog,
    config: deps.config,
    deliver,
    log,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.reliability ? { reliability: deps.reliability } : {}),
    ...(deps.secrets ? { secrets: deps.secrets } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.requireAlias ? { requireAlias: true } : {}),
  });
  const batch: ConsumerHandler = async (event, context) => {
    try {
      return await consumer.processEvent(event, context);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      logJson(log, {
        level: "error",
        msg: "batch failed; the event source mapping will retry it",
        function: context.invokedFunctionArn,
        error: error.name,
        reason: error.message,
      });
      throw error;
    }
  };
  return { batch, replay, checkToken: createTokenCheckRunner(deps.secrets) };
}

/** The DynamoDB-backed stores for settled offsets and dead letters, in the catalog's table. */
export function reliabilityStores(client: DynamoDBClient, tableName: string): ReliabilityStores {
  return {
    progress: new DynamoProgressStore(client, tableName),
    deadLetters: new DynamoDeadLetterStore(client, tableName),
  };
}

let cold: ReturnType<typeof createConsumerFunction> | undefined;

function coldStart(): ReturnType<typeof createConsumerFunction> {
  const config = consumerConfig();
  const client = new DynamoDBClient(
    config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {},
  );
  return createConsumerFunction({
    catalog: new DynamoAdminStore(client, config.TABLE_NAME),
    config,
    reliability: reliabilityStores(client, config.TABLE_NAME),
    secrets: secretsManagerResolver({ ttlMs: config.SECRET_CACHE_TTL_MS }),
    metrics: writeEmfToStdout,
    // `sam local invoke` runs the bare function with a fixture event: found by cluster and topic.
    requireAlias: process.env.AWS_SAM_LOCAL !== "true",
  });
}

/** The Lambda handler (`handlers/consumer.handler`): event source batches, replay commands and
 * token checks. */
export const handler = (
  event: unknown,
  context: InvocationContext,
): Promise<BatchResponse | ReplayReply | TokenCheckReply | undefined> => {
  cold ??= coldStart();
  if (isTokenCheckCommand(event)) return cold.checkToken(event);
  return isReplayCommand(event) ? cold.replay(event, context) : cold.batch(event, context);
};
