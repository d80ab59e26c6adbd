// Service handlers: register and change (endpoint policy and, for `auth`, the token's bound
// endpoints checked), import from a Restate admin API
// (`POST /services/import`), list, show and delete (refused while in use).

import {
  parseBody,
  serviceBodySchema,
  serviceFromBody,
  servicePatchSchema,
} from "../../core/admin-schemas.ts";
import { refusedEndpoint } from "../../core/endpoint-policy.ts";
import {
  AlreadyExistsError,
  MethodNotAllowedError,
  NotFoundError,
  NotSupportedError,
  RestateAdminError,
  SecretUnavailableError,
  ValidationError,
} from "../../core/errors.ts";
import type { ServiceDefinition } from "../../core/model.ts";
import {
  importBodySchema,
  type SkippedService,
  servicesFromRestate,
} from "../../core/restate-import.ts";

import { quote } from "../../core/uris.ts";
import { type AdminContext, deleteUnlessUsed } from "./context.ts";
import { accepted, json, type Routes, readJson } from "./router.ts";
import type { AdminRequest, AdminResponse } from "./types.ts";

export function serviceRoutes(ctx: AdminContext): Routes {
  const { deps } = ctx;
  const { store } = deps;

  /**
   * Refuses (400 naming the rule) a service whose bearer token may not go to its endpoint: the
   * token is sent only to the endpoints its secret names, whoever registers the service.
   */
  async function checkTokenBinding(what: string, service: ServiceDefinition): Promise<void> {
    if (service.auth === undefined) return;
    const secretRef = service.auth.bearer_token_secret;
    const refuse = (why: string): never => {
      throw new ValidationError(
        `invalid ${what}: auth.bearer_token_secret: a token goes only to the endpoints its secret names: ${why}`,
      );
    };
    const check = deps.sinkTokenCheck;
    if (check === undefined) {
      return refuse(`this deployment cannot check where the token in ${secretRef} may go`);
    }
    let refusal: string | undefined;
    try {
      refusal = await check(secretRef, service.endpoint);
    } catch (error) {
      if (error instanceof SecretUnavailableError) return refuse(error.message);
      throw error;
    }
    if (refusal !== undefined) refuse(refusal);
  }

  /** Refuses endpoints the policy does not allow (400 naming the field). */
  function checkEndpoint(what: string, field: string, url: string): void {
    const why = refusedEndpoint(url, deps.endpointAllow);
    if (why !== undefined) throw new ValidationError(`invalid ${what}: ${field} ${why}`);
  }

  async function createService(request: AdminRequest): Promise<AdminResponse> {
    const service = serviceFromBody(parseBody(serviceBodySchema, readJson(request), "service"));
    checkEndpoint("service", "endpoint", service.endpoint);
    await checkTokenBinding("service", service);
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
    checkEndpoint("import", "admin_url", body.admin_url);
    if (body.ingress_url !== undefined) checkEndpoint("import", "ingress_url", body.ingress_url);
    const restateAdmin = deps.restateAdmin;
    if (restateAdmin === undefined) {
      throw new NotSupportedError("importing services is not available in this deployment");
    }
    // A RestateAdminError says what went wrong in words fit for the caller (502).
    const listing = await restateAdmin.listServices(body.admin_url);
    const ingressUrl = body.ingress_url ?? (await restateAdmin.ingressEndpoint(body.admin_url));
    if (ingressUrl === undefined) {
      throw new ValidationError(
        `"ingress_url" is required: the Restate admin API does not report its ingress endpoint`,
      );
    }
    checkEndpoint("import", "the ingress endpoint the Restate admin API reports", ingressUrl);
    let plan: ReturnType<typeof servicesFromRestate>;
    try {
      plan = servicesFromRestate(listing, {
        ingressUrl,
        invocation: body.invocation,
        only: body.services,
      });
    } catch (error) {
      if (error instanceof ValidationError) throw new RestateAdminError(error.message);
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

  /** `PATCH /services/{name}`: a new endpoint, invocation or auth; subscriptions keep going and
   * pick it up within the consumer's catalog cache time. */
  async function patchService(request: AdminRequest, name: string): Promise<AdminResponse> {
    const patch = parseBody(servicePatchSchema, readJson(request), "service change");
    const current = await getService(name);
    if (patch.endpoint !== undefined) checkEndpoint("service change", "endpoint", patch.endpoint);
    const { auth: _auth, ...rest } = current;
    const auth = patch.auth === undefined ? current.auth : (patch.auth ?? undefined);
    const next: ServiceDefinition = {
      ...rest,
      ...(patch.endpoint === undefined ? {} : { endpoint: patch.endpoint.replace(/\/+$/, "") }),
      ...(patch.invocation === undefined ? {} : { invocation: patch.invocation }),
      ...(auth === undefined ? {} : { auth }),
    };
    if (patch.endpoint !== undefined || patch.auth !== undefined) {
      await checkTokenBinding("service change", next);
    }
    await store.replaceService(current, next);
    return json(200, next);
  }

  async function deleteService(name: string): Promise<AdminResponse> {
    await getService(name);
    await deleteUnlessUsed(store, "service", name, `service ${quote(name)}`, () =>
      store.deleteService(name),
    );
    return accepted();
  }

  return {
    services: {
      GET: async () => json(200, { services: await store.listServices() }),
      POST: (request) => createService(request),
    },
    "services/:name": {
      GET: async (_r, [name = ""]) => json(200, await getService(name)),
      DELETE: (_r, [name = ""]) => deleteService(name),
      PATCH: (request, [name = ""]) => patchService(request, name),
      // `/services/import` is an action; GET and DELETE still reach a service named "import".
      POST: async (request, [name = ""]) => {
        if (name === "import") return importServices(request);
        throw new MethodNotAllowedError("POST", ["GET", "DELETE", "PATCH"]);
      },
    },
  };
}
