// The one place a consumer function is built from its settings and adapters: the DynamoDB stores,
// the HTTP sink, the secret resolver, replay deliveries and the command runners. The Lambda
// handler, the local stack, `npm run invoke` and the benchmark all build theirs here.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoAdminStore } from "../adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../adapters/dynamo/progress-store.ts";
import { createHttpSink } from "../adapters/http-sink.ts";
import { secretsManagerResolver } from "../adapters/secrets-manager.ts";
import { logBatchFailure } from "../app/batch-report.ts";
import {
  type ConsumerSettings,
  createConsumer,
  type InvocationContext,
  recordLimits,
} from "../app/consumer.ts";
import {
  noReliability,
  type ReliabilityStores,
  storedReliability,
} from "../app/reliability-flow.ts";
import {
  createReplayCommandRunner,
  createSinkReplay,
  type SinkReplay,
  type SinkReplayOptions,
} from "../app/sink-replay.ts";
import { createTokenCheckRunner } from "../app/token-check-runner.ts";
import type { ConsumerConfig } from "../config.ts";
import type { EndpointAllowList } from "../core/endpoint-policy.ts";
import type { SinkRequest } from "../core/invocation.ts";
import { type MetricsWriter, writeEmfToStdout } from "../core/metrics.ts";
import { type BatchResponse, consoleLogger, type Logger } from "../core/outcome.ts";
import type { CatalogReader } from "../core/ports.ts";
import type { ReplayCommandReply } from "../core/replay-command.ts";
import type { Deliver } from "../core/retry.ts";
import type { SecretResolver } from "../core/secrets.ts";
import type { TokenCheckReply } from "../core/token-check-command.ts";

export type ConsumerHandler = (
  event: unknown,
  context: InvocationContext,
) => Promise<BatchResponse | undefined>;

/**
 * Dead letters named by the admin function (core/replay-command.ts); `context` cuts the command's
 * time to what the invocation has left.
 */
export type ReplayCommandHandler = (
  payload: unknown,
  context?: InvocationContext,
) => Promise<ReplayCommandReply>;

/** Whether a sink token may go to an endpoint, asked by the admin (core/token-check-command.ts). */
export type TokenCheckHandler = (payload: unknown) => Promise<TokenCheckReply>;

export interface ConsumerHandlerDeps {
  readonly catalog: CatalogReader;
  readonly config: ConsumerSettings;
  /** Defaults to an HTTP sink (undici) sized from the config, checking SERVICE_ENDPOINT_ALLOW. */
  readonly deliver?: Deliver<SinkRequest> | undefined;
  /**
   * Settled offsets and dead letters. With them, a redelivered batch skips what was already
   * delivered and a record that keeps failing is dead-lettered; without, every record of a
   * redelivered batch is sent again and failures block their lane until they succeed.
   */
  readonly reliability?: ReliabilityStores | undefined;
  /** Bearer tokens of services that declare `auth` (Secrets Manager on AWS, LOCAL_SECRETS locally). */
  readonly secrets?: SecretResolver | undefined;
  readonly log?: Logger | undefined;
  /** Where the per-batch EMF line goes (see ConsumerDeps.metrics). */
  readonly metrics?: MetricsWriter | undefined;
  readonly now?: (() => number) | undefined;
  /** See ConsumerDeps.requireAlias (on in the Lambda, off for tests, `sam local` and locally). */
  readonly requireAlias?: boolean | undefined;
}

/**
 * What the consumer function is invoked for: batches from its event source mappings, and, on
 * behalf of the admin function (which may not read sink tokens), replays of dead letters and
 * checks of where a token may go.
 */
export interface ConsumerFunction {
  readonly batch: ConsumerHandler;
  readonly replay: ReplayCommandHandler;
  readonly checkToken: TokenCheckHandler;
  /** Replays through the consumer's own sink and tokens (the local stack's admin API uses it). */
  readonly sinkReplay: (requestTimeoutMs?: number) => SinkReplay;
  /** Closes the HTTP sink built here (none when `deliver` was given). */
  readonly close: () => Promise<void>;
}

export function createConsumerFunction(deps: ConsumerHandlerDeps): ConsumerFunction {
  const log = deps.log ?? consoleLogger;
  const sink =
    deps.deliver === undefined
      ? createHttpSink({
          connections: deps.config.MAX_CONCURRENCY,
          requestTimeoutMs: deps.config.REQUEST_TIMEOUT_MS,
          endpointAllow: deps.config.SERVICE_ENDPOINT_ALLOW,
        })
      : undefined;
  const deliver = deps.deliver ?? (sink as NonNullable<typeof sink>).deliver;
  const deadLetters = deps.reliability?.deadLetters;
  const sinkReplay = (requestTimeoutMs?: number) =>
    createSinkReplay({
      catalog: deps.catalog,
      deadLetters: deadLetters ?? { whole: async (letter) => letter },
      requestTimeoutMs: requestTimeoutMs ?? deps.config.REQUEST_TIMEOUT_MS,
      // Shared with the batches: closed with the consumer function, not with a replay.
      sink: { deliver, close: async () => {} },
      ...(deps.secrets ? { secrets: deps.secrets } : {}),
      limits: recordLimits(deps.config),
    });
  const runReplay = createReplayCommandRunner({
    catalog: deps.catalog,
    deadLetters,
    sinkReplay,
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
    reliability: deps.reliability ? storedReliability(deps.reliability) : noReliability,
    metrics: deps.metrics,
    secrets: deps.secrets,
    now: deps.now,
    requireAlias: deps.requireAlias,
  });
  const batch: ConsumerHandler = async (event, context) => {
    try {
      return await consumer.processEvent(event, context);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      logBatchFailure(log, context.invokedFunctionArn, error);
      throw error;
    }
  };
  return {
    batch,
    replay,
    checkToken: createTokenCheckRunner(deps.secrets),
    sinkReplay,
    close: async () => await sink?.close(),
  };
}

/** The batch handler over explicit dependencies: for tests, the local stack and the benchmark. */
export function createConsumerHandler(deps: ConsumerHandlerDeps): ConsumerHandler {
  return createConsumerFunction(deps).batch;
}

/** The DynamoDB-backed stores for settled offsets and dead letters, in the catalog's table. */
export function reliabilityStores(client: DynamoDBClient, tableName: string): ReliabilityStores {
  return {
    progress: new DynamoProgressStore(client, tableName),
    deadLetters: new DynamoDeadLetterStore(client, tableName),
  };
}

/** The consumer function on AWS: its table, Secrets Manager and the EMF metrics on stdout. */
export function lambdaConsumerFunction(
  config: ConsumerConfig,
  options: { readonly requireAlias: boolean },
): ConsumerFunction {
  const client = new DynamoDBClient(
    config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {},
  );
  return createConsumerFunction({
    catalog: new DynamoAdminStore(client, config.TABLE_NAME),
    config,
    reliability: reliabilityStores(client, config.TABLE_NAME),
    secrets: secretsManagerResolver({ ttlMs: config.SECRET_CACHE_TTL_MS }),
    metrics: writeEmfToStdout,
    requireAlias: options.requireAlias,
  });
}

export interface HttpSinkReplayOptions extends Omit<SinkReplayOptions, "sink"> {
  /** SERVICE_ENDPOINT_ALLOW, checked when the sink connects. */
  readonly endpointAllow?: EndpointAllowList | undefined;
}

/** Replays over a small HTTP sink of their own, closed with them. */
export function createHttpSinkReplay(options: HttpSinkReplayOptions): SinkReplay {
  const { endpointAllow, ...rest } = options;
  const sink = createHttpSink({
    connections: 4,
    requestTimeoutMs: options.requestTimeoutMs,
    endpointAllow,
  });
  return createSinkReplay({ ...rest, sink });
}
