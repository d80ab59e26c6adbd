// What the consumer role (the event source mappings' role) may do for schema registries and
// on-failure destinations: exactly the resources the template parameters list, nothing without
// them.
import { describe, expect, it } from "vitest";
import { loadTemplate, resolveValue, type Template } from "../../infra/template.ts";

type Json = Parameters<typeof resolveValue>[1];
const template = loadTemplate();

/** The consumer role's statements with these Sids, resolved with `parameters`. */
function statements(parameters: Record<string, string>, sids: readonly string[]) {
  const role = (template.Resources as Template).ConsumerRole as Template;
  const policies = ((role.Properties as Template).Policies as Json[]) ?? [];
  const found: Record<string, unknown> = {};
  for (const policy of policies as Template[]) {
    const entries = ((policy.PolicyDocument as Template).Statement as Json[]) ?? [];
    for (const entry of entries) {
      // Only the conditional statements asked about (others use functions not resolved here).
      const branches = (entry as Template)["Fn::If"] as Json[] | undefined;
      const sid = (branches?.[1] as Template | undefined)?.Sid;
      if (sid === undefined || !sids.includes(String(sid))) continue;
      const resolved = resolveValue(template, entry, { parameters }) as Template | null;
      if (resolved && sids.includes(String(resolved.Sid))) {
        const { Sid, ...rest } = resolved;
        found[String(Sid)] = rest;
      }
    }
  }
  return found;
}

const SIDS = [
  "ReadSchemaRegistryCredentials",
  "ReadGlueSchemas",
  "SendToOnFailureQueues",
  "PublishToOnFailureTopics",
  "ListOnFailureBuckets",
  "WriteToOnFailureBuckets",
  "WriteOnFailureKafkaTopics",
];

describe("consumer role grants for registries and destinations", () => {
  it("none without the parameters", () => {
    expect(statements({}, SIDS)).toEqual({});
  });

  it("exactly the listed secrets, registries and their schemas, queues, topics and buckets", () => {
    const secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:registry-AbCdEf";
    const registries =
      "arn:aws:glue:eu-west-1:111122223333:registry/orders,arn:aws:glue:eu-west-1:111122223333:registry/payments";
    expect(
      statements(
        {
          SchemaRegistrySecretArns: secret,
          GlueRegistryArns: registries,
          OnFailureQueueArns: "arn:aws:sqs:eu-west-1:111122223333:failed",
          OnFailureTopicArns: "arn:aws:sns:eu-west-1:111122223333:failed",
          OnFailureBucketArns: "arn:aws:s3:::failed-a,arn:aws:s3:::failed-b",
          OnFailureKafkaTopicArns:
            "arn:aws:kafka:eu-west-1:111122223333:topic/orders/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2/orders-failed",
        },
        SIDS,
      ),
    ).toEqual({
      ReadSchemaRegistryCredentials: {
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: [secret],
      },
      ReadGlueSchemas: {
        Effect: "Allow",
        Action: ["glue:GetRegistry", "glue:GetSchemaVersion"],
        Resource: [
          "arn:aws:glue:eu-west-1:111122223333:registry/orders",
          "arn:aws:glue:eu-west-1:111122223333:registry/payments",
          "arn:aws:glue:eu-west-1:111122223333:schema/orders/*",
          "arn:aws:glue:eu-west-1:111122223333:schema/payments/*",
        ],
      },
      SendToOnFailureQueues: {
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: ["arn:aws:sqs:eu-west-1:111122223333:failed"],
      },
      PublishToOnFailureTopics: {
        Effect: "Allow",
        Action: "sns:Publish",
        Resource: ["arn:aws:sns:eu-west-1:111122223333:failed"],
      },
      ListOnFailureBuckets: {
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: ["arn:aws:s3:::failed-a", "arn:aws:s3:::failed-b"],
      },
      WriteToOnFailureBuckets: {
        Effect: "Allow",
        Action: "s3:PutObject",
        Resource: ["arn:aws:s3:::failed-a/*", "arn:aws:s3:::failed-b/*"],
      },
      WriteOnFailureKafkaTopics: {
        Effect: "Allow",
        Action: ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
        Resource: [
          "arn:aws:kafka:eu-west-1:111122223333:topic/orders/0a1b2c3d-4e5f-6789-abcd-ef0123456789-2/orders-failed",
        ],
      },
    });
  });
});
