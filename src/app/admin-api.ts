// The admin API as a transport-independent application: a request in, a JSON response out.
// Routes: /subscriptions, /kafka-clusters, /services. Errors map to status codes in one place
// (`toResponse`); 5xx bodies never carry details, which go to the log instead.
import { randomBytes } from "node:crypto";
import { createRestateAdminClient, RestateAdminError } from "../adapters/restate-admin.ts";
import {
  clusterBodySchema,
  parseBody,
  serviceBodySchema,
  serviceFromBody,
  subscriptionBodySchema,
} from "../core/admin-schemas.ts";
import { redactCluster, validateClusterProperties } from "../core/cluster-properties.ts";
import {
  AlreadyExistsError,
  ConflictError,
  DependencyError,
  NotFoundError,
  ValidationError,
} from "../core/errors.ts";
import type { FeedRef, KafkaCluster, ServiceDefinition, Subscription } from "../core/model.ts";
import type { AdminStore, FeedControl } from "../core/ports.ts";
import {
  importBodySchema,
  type RestateAdminReader,
  type SkippedService,
  servicesFromRestate,
} from "../core/restate-import.ts";
import { normaliseSubscriptionOptions } from "../core/subscription-options.ts";
import { parseSink, parseSource, quote } from "../core/uris.ts";

export interface AdminRequest {
  readonly method: string;
  /** e.g. `/subscriptions/sub_123`; a trailing slash is ignored, segments are URL-decoded. */
  readonly path: string;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body (UTF-8 text), undefined when there is none. */
  readonly body: string | undefined;
}

export interface AdminResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON text, or empty for 202 on DELETE. */
  readonly body: string;
}

export type AdminLog = (entry: Record<string, unknown>) => void;

export interface AdminApiDeps {
  readonly store: AdminStore;
  readonly feeds: FeedControl;
  /** Larger bodies get 413. */
  readonly maxBodyBytes: number;
  /** Subscription ids; defaults to `sub_` + 22 random base62 characters. */
  readonly newId?: () => string;
  readonly now?: () => Date;
  /** Structured error log; defaults to one JSON line on stderr. */
  readonly log?: AdminLog;
  /** Reads Restate admin APIs for `POST /services/import`; default: over HTTP(S). */
  readonly restateAdmin?: RestateAdminReader;
}

export interface AdminApi {
  handle(request: AdminRequest): Promise<AdminResponse>;
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `sub_` + 22 base62 characters from the CSPRNG (~131 bits), without modulo bias. */
export function newSubscriptionId(): string {
  let out = "sub_";
  while (out.length < 26) {
    for (const byte of randomBytes(32)) {
      if (byte < 248 && out.length < 26) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** An error that already carries its HTTP status and a message safe to return. */
class HttpError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const JSON_HEADERS = { "content-type": "application/json" };

const json = (
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): AdminResponse => ({
  status,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify(value),
});

const accepted = (): AdminResponse => ({ status: 202, headers: {}, body: "" });

const defaultLog: AdminLog = (entry) => console.error(JSON.stringify(entry));

function errorDetail(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { error: error.name, detail: error.message, stack: error.stack };
  }
  return { error: String(error) };
}

/** How the API shows a subscription. */
export function subscriptionView(subscription: Subscription): Record<string, unknown> {
  return {
    id: subscription.id,
    source: subscription.source,
    sink: subscription.sink,
    options: subscription.options,
    status: subscription.status,
    createdAt: subscription.createdAt,
    ...(subscription.feed ? { feed: subscription.feed } : {}),
  };
}

const list = (names: readonly string[]): string =>
  names.length === 0 ? "none" : names.map((n) => quote(n)).join(", ");

type Handler = (request: AdminRequest, params: readonly string[]) => Promise<AdminResponse>;
type Routes = Record<string, Partial<Record<string, Handler>>>;

export function createAdminApi(deps: AdminApiDeps): AdminApi {
  const { store, feeds } = deps;
  const newId = deps.newId ?? newSubscriptionId;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? defaultLog;
  const restateAdmin = deps.restateAdmin ?? createRestateAdminClient();

  function readJson(request: AdminRequest): unknown {
    const body = request.body;
    if (body === undefined || body.trim() === "") {
      throw new HttpError(400, "request body is required (a JSON object)");
    }
    try {
      return JSON.parse(body);
    } catch {
      throw new HttpError(400, "request body is not valid JSON");
    }
  }

  /** Runs a clean-up step; a failure is logged (the operator must finish it) and swallowed. */
  async function cleanUp(
    step: string,
    context: Record<string, unknown>,
    action: () => Promise<unknown>,
  ) {
    try {
      await action();
    } catch (error) {
      if (error instanceof NotFoundError) return;
      log({
        level: "error",
        msg: `admin: clean-up failed: ${step}`,
        ...context,
        ...errorDetail(error),
      });
    }
  }

  async function usersOf(field: "cluster" | "service", name: string): Promise<string[]> {
    try {
      const all = await store.listSubscriptions();
      return all.filter((s) => s[field] === name).map((s) => s.id);
    } catch {
      return [];
    }
  }

  // ---- subscriptions -----------------------------------------------------------------------

  async function createSubscription(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(subscriptionBodySchema, readJson(request), "subscription");
    const source = parseSource(body.source);
    const sink = parseSink(body.sink);
    const options = normaliseSubscriptionOptions(body.options);

    const cluster = await store.getCluster(source.cluster);
    if (!cluster) {
      const names = (await store.listClusters()).map((c) => c.name);
      throw new ValidationError(
        `unknown Kafka cluster ${quote(source.cluster)} in source; available clusters: ${list(names)}`,
      );
    }
    const service = await store.getService(sink.service);
    if (!service) {
      const names = (await store.listServices()).map((s) => s.name);
      throw new ValidationError(
        `unknown service ${quote(sink.service)} in sink; registered services: ${list(names)}`,
      );
    }
    if (!Object.hasOwn(service.handlers, sink.handler)) {
      throw new ValidationError(
        `service ${quote(service.name)} has no handler ${quote(sink.handler)}; its handlers: ${list(Object.keys(service.handlers))}`,
      );
    }

    const subscription: Subscription = {
      id: newId(),
      source: body.source,
      sink: body.sink,
      options,
      cluster: source.cluster,
      topic: source.topic,
      service: sink.service,
      handler: sink.handler,
      status: "provisioning",
      createdAt: now().toISOString(),
    };
    try {
      await store.createSubscription(subscription);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        const existing = (await store.listSubscriptions().catch(() => [])).find(
          (s) => s.source === subscription.source && s.sink === subscription.sink,
        );
        throw new ConflictError(
          `a subscription from ${subscription.source} to ${subscription.sink} already exists${existing ? ` (${existing.id})` : ""}`,
        );
      }
      if (error instanceof NotFoundError)
        throw new ValidationError(`${error.message} (removed meanwhile)`);
      throw error;
    }

    const context = { subscription: subscription.id };
    let feed: FeedRef;
    try {
      feed = await feeds.create(subscription, cluster);
    } catch (error) {
      await cleanUp("delete subscription", context, () =>
        store.deleteSubscription(subscription.id),
      );
      if (error instanceof ValidationError) throw error;
      log({
        level: "error",
        msg: "admin: creating the feed failed",
        ...context,
        ...errorDetail(error),
      });
      throw new HttpError(
        502,
        "could not create the event source mapping for this subscription; nothing was created, try again",
      );
    }

    const active: Subscription = { ...subscription, status: "active", feed };
    try {
      await store.updateSubscription(active);
    } catch (error) {
      log({
        level: "error",
        msg: "admin: storing the feed failed",
        ...context,
        ...errorDetail(error),
      });
      await cleanUp("remove feed", { ...context, feed }, () => feeds.remove(subscription, feed));
      await cleanUp("delete subscription", context, () =>
        store.deleteSubscription(subscription.id),
      );
      throw new HttpError(502, "could not store the subscription; nothing was created, try again");
    }
    return json(201, subscriptionView(active), { location: `subscriptions/${active.id}` });
  }

  async function listSubscriptions(request: AdminRequest): Promise<AdminResponse> {
    const { source, sink } = request.query;
    const all = await store.listSubscriptions();
    const matching = all.filter(
      (s) =>
        (source === undefined || s.source === source) && (sink === undefined || s.sink === sink),
    );
    return json(200, { subscriptions: matching.map(subscriptionView) });
  }

  async function getSubscription(id: string): Promise<Subscription> {
    const subscription = await store.getSubscription(id);
    if (!subscription) throw new NotFoundError(`subscription ${quote(id)} not found`);
    return subscription;
  }

  async function deleteSubscription(id: string): Promise<AdminResponse> {
    const subscription = await getSubscription(id);
    const deleting: Subscription = { ...subscription, status: "deleting" };
    await store.updateSubscription(deleting);
    if (subscription.feed) {
      try {
        await feeds.remove(subscription, subscription.feed);
      } catch (error) {
        log({
          level: "error",
          msg: "admin: removing the feed failed",
          subscription: id,
          ...errorDetail(error),
        });
        throw new HttpError(
          502,
          "could not remove the event source mapping; the subscription stays in status deleting, retry the DELETE",
        );
      }
    }
    try {
      await store.deleteSubscription(id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error; // a concurrent DELETE finished first
    }
    return accepted();
  }

  // ---- clusters ----------------------------------------------------------------------------

  async function createCluster(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(clusterBodySchema, readJson(request), "Kafka cluster");
    const cluster: KafkaCluster = {
      name: body.name,
      properties: validateClusterProperties(body.properties, "api"),
      origin: "api",
    };
    try {
      await store.createCluster(cluster);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        throw new AlreadyExistsError(`Kafka cluster ${quote(cluster.name)} already exists`);
      }
      throw error;
    }
    return json(201, redactCluster(cluster), {
      location: `kafka-clusters/${encodeURIComponent(cluster.name)}`,
    });
  }

  async function getCluster(name: string): Promise<KafkaCluster> {
    const cluster = await store.getCluster(name);
    if (!cluster) throw new NotFoundError(`Kafka cluster ${quote(name)} not found`);
    return cluster;
  }

  async function deleteCluster(name: string): Promise<AdminResponse> {
    const cluster = await getCluster(name);
    if (cluster.origin === "config") {
      throw new ConflictError(
        `Kafka cluster ${quote(name)} is declared in the config file; remove it there`,
      );
    }
    try {
      await store.deleteCluster(name);
    } catch (error) {
      if (error instanceof ConflictError) {
        const users = await usersOf("cluster", name);
        throw new ConflictError(
          `Kafka cluster ${quote(name)} is used by subscriptions${users.length ? ` ${users.join(", ")}` : ""}; delete them first`,
        );
      }
      throw error;
    }
    return accepted();
  }

  // ---- services ----------------------------------------------------------------------------

  async function createService(request: AdminRequest): Promise<AdminResponse> {
    const service = serviceFromBody(parseBody(serviceBodySchema, readJson(request), "service"));
    try {
      await store.createService(service);
    } catch (error) {
      if (error instanceof AlreadyExistsError) {
        throw new AlreadyExistsError(`service ${quote(service.name)} already exists`);
      }
      throw error;
    }
    return json(201, service, { location: `services/${encodeURIComponent(service.name)}` });
  }

  /**
   * `POST /services/import`: registers the services a Restate admin API lists, with the given
   * ingress as endpoint. Names already registered are skipped, never overwritten.
   */
  async function importServices(request: AdminRequest): Promise<AdminResponse> {
    const body = parseBody(importBodySchema, readJson(request), "import");
    let listing: unknown;
    let ingressUrl = body.ingress_url;
    try {
      listing = await restateAdmin.listServices(body.admin_url);
      ingressUrl ??= await restateAdmin.ingressEndpoint(body.admin_url);
    } catch (error) {
      if (error instanceof RestateAdminError) throw new HttpError(502, error.message);
      throw error;
    }
    if (ingressUrl === undefined) {
      throw new ValidationError(
        `"ingress_url" is required: the Restate admin API does not report its ingress endpoint`,
      );
    }
    let plan: ReturnType<typeof servicesFromRestate>;
    try {
      plan = servicesFromRestate(listing, {
        ingressUrl,
        ...(body.invocation ? { invocation: body.invocation } : {}),
        ...(body.services ? { only: body.services } : {}),
      });
    } catch (error) {
      if (error instanceof ValidationError) throw new HttpError(502, error.message);
      throw error;
    }
    const imported: ServiceDefinition[] = [];
    const skipped: SkippedService[] = [...plan.skipped];
    for (const service of plan.services) {
      try {
        await store.createService(service);
        imported.push(service);
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error;
        skipped.push({ name: service.name, reason: "already registered (not overwritten)" });
      }
    }
    return json(imported.length > 0 ? 201 : 200, { imported, skipped });
  }

  async function getService(name: string): Promise<ServiceDefinition> {
    const service = await store.getService(name);
    if (!service) throw new NotFoundError(`service ${quote(name)} not found`);
    return service;
  }

  async function deleteService(name: string): Promise<AdminResponse> {
    await getService(name);
    try {
      await store.deleteService(name);
    } catch (error) {
      if (error instanceof ConflictError) {
        const users = await usersOf("service", name);
        throw new ConflictError(
          `service ${quote(name)} is used by subscriptions${users.length ? ` ${users.join(", ")}` : ""}; delete them first`,
        );
      }
      throw error;
    }
    return accepted();
  }

  // ---- routing -----------------------------------------------------------------------------

  const routes: Routes = {
    subscriptions: {
      GET: (request) => listSubscriptions(request),
      POST: (request) => createSubscription(request),
    },
    "subscriptions/:id": {
      GET: async (_r, [id = ""]) => {
        const subscription = await getSubscription(id);
        const feedStatus = await feeds.status?.(subscription);
        return json(200, {
          ...subscriptionView(subscription),
          ...(feedStatus ? { feedStatus } : {}),
        });
      },
      DELETE: (_r, [id = ""]) => deleteSubscription(id),
    },
    "kafka-clusters": {
      GET: async () => json(200, { clusters: (await store.listClusters()).map(redactCluster) }),
      POST: (request) => createCluster(request),
    },
    "kafka-clusters/:name": {
      GET: async (_r, [name = ""]) => json(200, redactCluster(await getCluster(name))),
      DELETE: (_r, [name = ""]) => deleteCluster(name),
    },
    services: {
      GET: async () => json(200, { services: await store.listServices() }),
      POST: (request) => createService(request),
    },
    "services/:name": {
      GET: async (_r, [name = ""]) => json(200, await getService(name)),
      DELETE: (_r, [name = ""]) => deleteService(name),
      // `/services/import` is an action; GET and DELETE still reach a service named "import".
      POST: async (request, [name = ""]) => {
        if (name === "import") return importServices(request);
        throw new HttpError(405, "method POST is not allowed here; allowed: GET, DELETE", {
          allow: "GET, DELETE",
        });
      },
    },
  };

  function route(path: string): { pattern: string; params: string[] } {
    const raw = path.split("?")[0] ?? "";
    const segments = raw.split("/").filter((segment, index, all) => {
      // drop the leading empty segment and one trailing slash
      if (index === 0 && segment === "") return false;
      return !(index === all.length - 1 && segment === "");
    });
    let decoded: string[];
    try {
      decoded = segments.map((segment) => decodeURIComponent(segment));
    } catch {
      throw new HttpError(400, "request path is not valid URL encoding");
    }
    const [collection, item, ...extra] = decoded;
    if (
      collection === undefined ||
      extra.length > 0 ||
      item === "" ||
      !Object.hasOwn(routes, collection)
    ) {
      throw new HttpError(404, `no route for ${quote(raw)}`);
    }
    if (item === undefined) return { pattern: collection, params: [] };
    const pattern = `${collection}/:${collection === "subscriptions" ? "id" : "name"}`;
    return { pattern, params: [item] };
  }

  function toResponse(error: unknown, request: AdminRequest): AdminResponse {
    if (error instanceof HttpError)
      return json(error.status, { message: error.message }, error.headers);
    if (error instanceof ValidationError) return json(400, { message: error.message });
    if (error instanceof NotFoundError) return json(404, { message: error.message });
    if (error instanceof AlreadyExistsError || error instanceof ConflictError) {
      return json(409, { message: error.message });
    }
    const where = { method: request.method, path: request.path };
    if (error instanceof DependencyError) {
      log({ level: "error", msg: "admin: dependency failed", ...where, ...errorDetail(error) });
      return json(502, { message: "a dependency failed; try again later" });
    }
    log({ level: "error", msg: "admin: internal error", ...where, ...errorDetail(error) });
    return json(500, { message: "internal error" });
  }

  async function handle(request: AdminRequest): Promise<AdminResponse> {
    try {
      const { pattern, params } = route(request.path);
      const methods = routes[pattern] ?? {};
      const method = request.method.toUpperCase();
      const handler = methods[method];
      if (!handler) {
        const allow = Object.keys(methods).join(", ");
        throw new HttpError(405, `method ${method} is not allowed here; allowed: ${allow}`, {
          allow,
        });
      }
      if (
        request.body !== undefined &&
        Buffer.byteLength(request.body, "utf8") > deps.maxBodyBytes
      ) {
        throw new HttpError(413, `request body is larger than ${deps.maxBodyBytes} bytes`);
      }
      return await handler(request, params);
    } catch (error) {
      return toResponse(error, request);
    }
  }

  return { handle };
}
