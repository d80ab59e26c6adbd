// The local stack: the admin API and an embedded DynamoDB-compatible store in one process.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoAdminStore, ensureTable } from "../adapters/dynamo-store.ts";
import { createAdminApi } from "../app/admin-api.ts";
import { createReplayDeliveries } from "../app/replay-delivery.ts";
import { consumerConfig } from "../config.ts";
import { parseEndpointAllowList } from "../core/endpoint-policy.ts";
import { sinkTokenCheck } from "../core/secrets.ts";
import { createConsumerHandler, reliabilityStores } from "../handlers/consumer.ts";
import { startAdminServer } from "./admin-server.ts";
import { readConfigFileClusters } from "./config-file.ts";
import { startEmbeddedDynamoDb } from "./embedded-dynamodb.ts";
import { localInvocationContext } from "./lambda-context.ts";
import { LocalFeedControl } from "./local-feeds.ts";
import { localKafkaSecretBindings, localSecretResolver } from "./local-secrets.ts";
import { claimDataDir, removeStackInfo, writeStackInfo } from "./stack-file.ts";

export interface LocalStackOptions {
  /** Where state persists; without it everything lives in memory. */
  readonly dataDir?: string;
  readonly host?: string;
  readonly port?: number;
  readonly configFile?: string;
  readonly tableName?: string;
  readonly maxBodyBytes?: number;
  /** False: do not consume Kafka; events reach the consumer only through `npm run invoke`. */
  readonly consumeKafka?: boolean;
  /**
   * Allowed service endpoint hosts, as `SERVICE_ENDPOINT_ALLOW` (core/endpoint-policy.ts);
   * default: that environment variable, unset = any host except link-local / metadata addresses.
   */
  readonly serviceEndpointAllow?: string;
  readonly log?: (line: string) => void;
}

export interface LocalStack {
  readonly adminUrl: string;
  readonly dynamodbEndpoint: string;
  readonly tableName: string;
  close(): Promise<void>;
}

/** Credentials are required by the SDK's signer but meaningless to the embedded store. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 3,
  });
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const tableName = options.tableName ?? "kafka-ingress";
  const configClusters = options.configFile ? await readConfigFileClusters(options.configFile) : [];
  // No Secrets Manager locally: service `auth` references resolve from LOCAL_SECRETS.
  const secrets = localSecretResolver(process.env);
  const config = consumerConfig();

  if (options.dataDir) {
    await mkdir(options.dataDir, { recursive: true });
    await claimDataDir(options.dataDir);
  }
  const db = await startEmbeddedDynamoDb(
    options.dataDir ? { dataDir: join(options.dataDir, "dynamodb") } : {},
  );
  const client = localDynamoDbClient(db.endpoint);
  try {
    await ensureTable(client, tableName);
    const store = new DynamoAdminStore(client, tableName);
    for (const cluster of configClusters) await store.upsertConfigCluster(cluster);

    const reliability = reliabilityStores(client, tableName);
    const consumer = createConsumerHandler({
      catalog: store,
      config,
      reliability,
      secrets,
      log,
    });
    const feeds = new LocalFeedControl({
      invoke: (subscription, event) => consumer(event, localInvocationContext(subscription.id)),
      log,
      ...(options.consumeKafka === undefined ? {} : { consumeKafka: options.consumeKafka }),
    });
    const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    const replay = createReplayDeliveries({
      catalog: store,
      deadLetters: reliability.deadLetters,
      requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
      maxRequestBytes: config.MAX_REQUEST_BYTES,
      secrets,
    });
    const allow = options.serviceEndpointAllow ?? process.env.SERVICE_ENDPOINT_ALLOW;
    const api = createAdminApi({
      store,
      feeds,
      maxBodyBytes,
      deadLetters: reliability.deadLetters,
      progress: reliability.progress,
      replayDelivery: (subscription) => replay.forSubscription(subscription),
      ...(allow ? { endpointAllow: parseEndpointAllowList(allow) } : {}),
      sinkTokenCheck: sinkTokenCheck(secrets),
      kafkaSecretBindings: localKafkaSecretBindings,
    });
    const server = await startAdminServer({
      handle: (request) => api.handle(request),
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 9070,
      maxBodyBytes,
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
        tableName,
        pid: process.pid,
      });
    }
    return {
      adminUrl: server.url,
      dynamodbEndpoint: db.endpoint,
      tableName,
      close: async () => {
        await server.close();
        await feeds.close();
        await replay.close();
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
