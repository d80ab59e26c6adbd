// Kafka client errors in words a user can act on. The client reports what it was doing
// ("joinGroup failed") and nests the reason (causes, aggregated errors per broker); the reason is
// what the status should show: wrong credentials, a missing ACL, a broker that cannot be reached.
// Reads only plain properties (message, code, apiId, serverErrorMessage, cause, errors), so it
// needs no import of the client.

interface ErrorNode {
  readonly message: string;
  readonly code?: string | undefined;
  readonly apiId?: string | undefined;
  readonly serverErrorMessage?: string | undefined;
}

const AUTHENTICATION = new Set([
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
]);
const AUTHORIZATION = new Set([
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ETIMEDOUT",
]);

const MAX_NODES = 64;

/** The topic is not there (yet): producing to it, or creating it, will fix it. */
const isMissingTopic = (n: ErrorNode) =>
  n.apiId === "UNKNOWN_TOPIC_OR_PARTITION" || /^Unknown topic /.test(n.message);

/** True when the error says the topic does not exist: worth retrying soon, not with backoff. */
export function isMissingTopicError(error: unknown): boolean {
  return flatten(error).some(isMissingTopic);
}

/** Every error in the tree under `error` (itself first, then causes and aggregated errors). */
function flatten(error: unknown): ErrorNode[] {
  const nodes: ErrorNode[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && nodes.length < MAX_NODES) {
    const next = queue.shift();
    if (next === null || next === undefined || seen.has(next)) continue;
    seen.add(next);
    if (typeof next !== "object") {
      nodes.push({ message: String(next) });
      continue;
    }
    const record = next as Record<string, unknown>;
    const text = (key: string) => (typeof record[key] === "string" ? record[key] : undefined);
    nodes.push({
      message: text("message") ?? String(next),
      code: text("code"),
      apiId: text("apiId"),
      serverErrorMessage: text("serverErrorMessage"),
    });
    if (record.cause !== undefined) queue.push(record.cause);
    if (Array.isArray(record.errors)) queue.push(...record.errors);
  }
  return nodes;
}

const brokerSaid = (node: ErrorNode) =>
  node.serverErrorMessage ? `${node.message} (broker: ${node.serverErrorMessage})` : node.message;

/**
 * One line for a status or a log: the most telling reason found in the error tree, after what the
 * client was doing. Never includes anything but the errors' own texts (no credentials: the client
 * does not put them in errors).
 */
export function describeKafkaError(error: unknown): string {
  const nodes = flatten(error);
  const top = nodes[0]?.message ?? "unknown Kafka error";
  const auth = nodes.find(
    (n) => n.code === "PLT_KFK_AUTHENTICATION" || (n.apiId && AUTHENTICATION.has(n.apiId)),
  );
  if (auth) return `authentication failed: check sasl.* of the cluster — ${brokerSaid(auth)}`;
  const denied = nodes.find((n) => n.apiId && AUTHORIZATION.has(n.apiId));
  if (denied) return `not authorized: check the broker's ACLs — ${brokerSaid(denied)}`;
  const missing = nodes.find(isMissingTopic);
  if (missing) return `the topic does not exist (yet): ${missing.message}`;
  const unreachable = nodes.find((n) => n.code && UNREACHABLE.has(n.code));
  if (unreachable) return `cannot reach the broker: ${unreachable.message}`;
  const deepest = nodes.at(-1);
  if (deepest === undefined || deepest === nodes[0]) return top;
  return `${top}: ${brokerSaid(deepest)}`;
}
