// Types for the two undici modules the HTTP sink imports directly. `import ... from "undici"`
// loads undici's index, which pulls fetch, WebSocket, caches, interceptors and proxies into the
// consumer bundle (~270 KB minified of ~740 KB); the sink only needs the Agent and the error
// classes. undici has no `exports` map, so these paths are public in practice; the bundle test
// and the sink's integration tests fail loudly should an upgrade move them.
declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";

  const AgentClass: typeof Agent;
  export default AgentClass;
}

declare module "undici/lib/core/errors.js" {
  import type { errors } from "undici";

  const undiciErrors: typeof errors;
  export default undiciErrors;
}

declare module "undici/lib/core/connect.js" {
  import type { buildConnector } from "undici";

  const build: typeof buildConnector;
  export default build;
}
