// The local stack: the admin API and an embedded DynamoDB-compatible store in one process, with
// clear Kafka credentials kept apart from the store (config-file ones in memory, API-given ones
// in a private file of the data dir).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoAdminStore } from "../adapters/dynamo/admin-store.ts";
import { ensureTable } from "../adapters/dynamo/ensure-table.ts";
import { ADMIN_DEFAULTS, COMMON_DEFAULTS, consumerConfig } from "../config.ts";
import { parseEndpointAllowList } from "../core/endpoint-policy.ts";
import { sinkTokenCheck } from "../core/secrets.ts";
import { adminApi } from "../wiring/admin.ts";
import { createConsumerFunction, reliabilityStores } from "../wiring/consumer.ts";
import { startAdminServer } from "./admin-server.ts";
import { readConfigFileClusters, splitCredentials } from "./config-file.ts";
import { startEmbeddedDynamoDb } from "./embedded-dynamodb.ts";
import { localInvocationContext } from "./lambda-context.ts";
import { openLocalCredentialVault } from "./local-credentials.ts";
import { LocalFeedControl } from "./local-feeds.ts";
import { localKafkaSecretBindings, localSecretResolver } from "./local-secrets.ts";
import { claimDataDir, makePrivateDir, removeStackInfo, writeStackInfo } from "./stack-file.ts";

export interface LocalStackOptions {
  /** Where state persists; without it everything lives in memory. */
  readonly dataDir?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  /** More names the admin API answers to in `Host` and `Origin` (besides loopback and `host`). */
  readonly allowedHosts?: readonly string[] | undefined;
  readonly configFile?: string | undefined;
  readonly tableName?: string | undefined;
  readonly maxBodyBytes?: number | undefined;
  /** False: do not consume Kafka; events reach the consumer only through `npm run invoke`. */
  readonly consumeKafka?: boolean | undefined;
  /**
   * Allowed service endpoint hosts, as `SERVICE_ENDPOINT_ALLOW` (core/endpoint-policy.ts);
   * default: that environment variable, unset = any host except link-local / metadata addresses.
   */
  readonly serviceEndpointAllow?: string | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export interface LocalStack {
  readonly adminUrl: string;
  readonly dynamodbEndpoint: string;
  /** The access key id the embedded store requires (see localDynamoDbClient). */
  readonly dynamodbAccessKeyId: string;
  readonly tableName: string;
  close(): Promise<void>;
}

/** A client of the embedded store, which checks the access key id only (not the signature). */
export function localDynamoDbClient(endpoint: string, accessKeyId: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId, secretAccessKey: "local" },
    maxAttempts: 3,
  });
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tableName = options.tableName ?? COMMON_DEFAULTS.TABLE_NAME;
  const configClusters = (
    options.configFile ? await readConfigFileClusters(options.configFile) : []
  ).map(splitCredentials);
  // Clear credentials from the config file stay in this process: never in the store's files.
  const clusterCredentials = new Map(
    configClusters.map(({ stored, credentials }) => [stored.name, credentials] as const),
  );
  // No Secrets Manager locally: service `auth` references resolve from LOCAL_SECRETS.
  const secrets = localSecretResolver(process.env);
  const env = consumerConfig();
  const allow = options.serviceEndpointAllow ?? process.env.SERVICE_ENDPOINT_ALLOW;
  // The admin API checks endpoints with this list when they are registered, the consumer and
  // replays when they connect.
  const endpointAllow = allow ? parseEndpointAllowList(allow) : undefined;
  const config = { ...env, SERVICE_ENDPOINT_ALLOW: endpointAllow };

  if (options.dataDir) {
    await makePrivateDir(options.dataDir);
    await claimDataDir(options.dataDir);
    await makePrivateDir(join(options.dataDir, "dynamodb"));
  }
  // Credentials given through the API: a private file in the data dir, never the store.
  const credentialVault = await openLocalCredentialVault(options.dataDir);
  const accessKeyId = randomBytes(24).toString("hex");
  const db = await startEmbeddedDynamoDb({
    dataDir: options.dataDir ? join(options.dataDir, "dynamodb") : undefined,
    accessKeyId,
  });
  const client = localDynamoDbClient(db.endpoint, accessKeyId);
  try {
    await ensureTable(client, tableName);
    const store = new DynamoAdminStore(client, tableName);
    for (const { stored } of configClusters) await store.upsertConfigCluster(stored);
    // Earlier versions stored config-file credentials: clusters no longer declared lose them too.
    for (const cluster of await store.listClusters()) {
      if (cluster.origin !== "config" || clusterCredentials.has(cluster.name)) continue;
      const { stored, credentials } = splitCredentials(cluster);
      if (Object.keys(credentials).length > 0) await store.upsertConfigCluster(stored);
    }

    const reliability = reliabilityStores(client, tableName);
    const consumer = createConsumerFunction({
      catalog: store,
      config,
      reliability,
      secrets,
      log,
    });
    const feeds = new LocalFeedControl({
      invoke: (subscription, event) =>
        consumer.batch(event, localInvocationContext(subscription.id)),
      log,
      clusterCredentials,
      apiCredentials: credentialVault,
      consumeKafka: options.consumeKafka,
    });
    const maxBodyBytes = options.maxBodyBytes ?? ADMIN_DEFAULTS.MAX_BODY_BYTES;
    // Replays go through the consumer's sink, tokens and record limits, as on AWS.
    const replay = consumer.sinkReplay();
    const api = adminApi({
      store,
      feeds,
      maxBodyBytes,
      replayBudgetMs: ADMIN_DEFAULTS.REPLAY_BUDGET_MS,
      deadLetters: reliability.deadLetters,
      progress: reliability.progress,
      replayDelivery: (subscription) => replay.forSubscription(subscription),
      endpointAllow,
      sinkTokenCheck: sinkTokenCheck(secrets),
      kafkaSecretBindings: localKafkaSecretBindings,
      credentialVault,
    });
    const server = await startAdminServer({
      handle: (request) => api.handle(request),
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 9070,
      maxBodyBytes,
      allowedHosts: options.allowedHosts,
    });
    // Feeds start once the API listens: a stack that cannot (port taken) consumes nothing.
    // Only active subscriptions consume: paused ones stay stopped until `POST .../resume`.
    for (const subscription of await store.listSubscriptions()) {
      if (subscription.status !== "active") continue;
      const cluster = await store.getCluster(subscription.cluster);
      if (cluster) feeds.start(subscription, cluster);
    }
    if (options.dataDir) {
      await writeStackInfo(options.dataDir, {
        adminUrl: server.url,
        dynamodbEndpoint: db.endpoint,
        dynamodbAccessKeyId: accessKeyId,
        tableName,
        pid: process.pid,
      });
    }
    return {
      adminUrl: server.url,
      dynamodbEndpoint: db.endpoint,
      dynamodbAccessKeyId: accessKeyId,
      tableName,
      close: async () => {
        await server.close();
        await feeds.close();
        await replay.close();
        await consumer.close();
        if (options.dataDir) await removeStackInfo(options.dataDir);
        client.destroy();
        await db.close();
      },
    };
  } catch (error) {
    client.destroy();
    await db.close();
    throw error;
  }
}
