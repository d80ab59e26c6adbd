// The one place the admin API is put together: on AWS from the admin configuration with the
// DynamoDB stores, the Lambda feed control, replays and token checks through the consumer
// function, Secrets Manager bindings and credential secrets, and the Restate admin client; locally from the parts the
// local stack brings (its own feeds, secrets and replay deliveries).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { DynamoAdminStore } from "../adapters/dynamo/admin-store.ts";
import { DynamoDeadLetterStore } from "../adapters/dynamo/dead-letter-store.ts";
import { DynamoProgressStore } from "../adapters/dynamo/progress-store.ts";
import { LambdaFeedControl } from "../adapters/lambda-feeds.ts";
import { ConsumerFunctionReplay } from "../adapters/lambda-replay.ts";
import { consumerFunctionTokenCheck } from "../adapters/lambda-token-check.ts";
import { createRestateAdminClient } from "../adapters/restate-admin.ts";
import {
  secretsManagerCredentialVault,
  secretsManagerKafkaBindings,
} from "../adapters/secrets-manager.ts";
import { type AdminApi, type AdminApiDeps, createAdminApi } from "../app/admin-api.ts";
import type { AdminConfig } from "../config.ts";

/** The admin API from its dependencies; Restate admin APIs are read over HTTP(S) unless given. */
export function adminApi(deps: AdminApiDeps): AdminApi {
  return createAdminApi({ ...deps, restateAdmin: deps.restateAdmin ?? createRestateAdminClient() });
}

/** The AWS deployment's dependencies, from the admin function's environment. */
export function awsAdminDeps(config: AdminConfig): AdminApiDeps {
  const consumerFunction = config.CONSUMER_FUNCTION_NAME;
  if (!consumerFunction) {
    throw new Error(
      "Invalid admin configuration: CONSUMER_FUNCTION_NAME is required (name or ARN of the consumer function that event source mappings invoke)",
    );
  }
  const dynamodb = new DynamoDBClient(
    config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {},
  );
  const lambda = new LambdaClient({});
  // Replays run in the consumer function, which may read the sink tokens this role is denied.
  // An attempt takes at most half the budget, so each request's first letter gets a whole one.
  const replay = new ConsumerFunctionReplay(
    lambda,
    consumerFunction,
    Math.min(config.REPLAY_REQUEST_TIMEOUT_MS, Math.floor(config.REPLAY_BUDGET_MS / 2)),
  );
  return {
    store: new DynamoAdminStore(dynamodb, config.TABLE_NAME),
    feeds: new LambdaFeedControl(lambda, consumerFunction),
    maxBodyBytes: config.MAX_BODY_BYTES,
    deadLetters: new DynamoDeadLetterStore(dynamodb, config.TABLE_NAME),
    progress: new DynamoProgressStore(dynamodb, config.TABLE_NAME),
    replayDelivery: (subscription) => replay.forSubscription(subscription),
    replayBudgetMs: config.REPLAY_BUDGET_MS,
    deleteSettleMs: config.DELETE_SETTLE_MS,
    endpointAllow: config.SERVICE_ENDPOINT_ALLOW,
    // Where a sink token may go is in its secret, which only the consumer may read; a Kafka
    // secret's brokers are in its tags, which this role may describe (never its value).
    sinkTokenCheck: consumerFunctionTokenCheck(lambda, consumerFunction),
    kafkaSecretBindings: secretsManagerKafkaBindings(),
    // Clear SASL credentials given with a cluster become a secret of this stack, never an item.
    credentialVault: config.KAFKA_CREDENTIALS_SECRET_PREFIX
      ? secretsManagerCredentialVault({ prefix: config.KAFKA_CREDENTIALS_SECRET_PREFIX })
      : undefined,
    restateAdmin: createRestateAdminClient(),
    onFailureDestinations: config.ON_FAILURE_DESTINATIONS,
    onFailureKafkaTopicArns: config.ON_FAILURE_KAFKA_TOPIC_ARNS,
  };
}

/** The admin API of the AWS deployment. */
export const awsAdminApi = (config: AdminConfig): AdminApi => adminApi(awsAdminDeps(config));
