import { describe, expect, it } from "vitest";
import { validateClusterProperties } from "../../src/core/cluster-properties.ts";
import { SecretUnavailableError } from "../../src/core/errors.ts";
import {
  authorizationFor,
  cachedSecretResolver,
  credentialFromSecretString,
  SECRET_ARN_PATTERN,
  tokenRefusal,
} from "../../src/core/secrets.ts";
import { localSecretResolver } from "../../src/local/local-secrets.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:restate/ingress-Ab12Cd";
const TOKEN = "rst_live_0123456789abcdef";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe("SECRET_ARN_PATTERN", () => {
  it("accepts Secrets Manager ARNs of every partition, with or without the suffix", () => {
    for (const arn of [
      ARN,
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:token",
      "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a/b_c+d=e.f@g-h",
      "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x",
    ]) {
      expect(arn).toMatch(SECRET_ARN_PATTERN);
    }
    for (const other of [
      TOKEN,
      "arn:aws:ssm:eu-west-1:123456789012:parameter/token",
      "arn:aws:secretsmanager:eu-west-1:12345:secret:x",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:has space",
    ]) {
      expect(other).not.toMatch(SECRET_ARN_PATTERN);
    }
  });

  const SCRAM_CLUSTER = {
    "bootstrap.servers": "b:1",
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
  };

  it("is the one pattern cluster properties and service bodies share, AWS's format exactly", () => {
    for (const arn of [
      "arn:aws-eusc:secretsmanager:eusc-de-east-1:123456789012:secret:kafka-AbCdEf",
      "arn:aws-iso-b:secretsmanager:us-isob-east-1:123456789012:secret:kafka",
      `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${"n".repeat(512)}-AbCdEf`,
    ]) {
      expect(arn).toMatch(SECRET_ARN_PATTERN);
      expect(
        validateClusterProperties({ ...SCRAM_CLUSTER, "aws.secrets.manager.arn": arn }, "api"),
      ).toMatchObject({ "aws.secrets.manager.arn": arn });
    }
    for (const other of [
      "arn:awsx:secretsmanager:eu-west-1:123456789012:secret:kafka",
      "arn:aws:secretsmanager:local:123456789012:secret:kafka",
      `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${"n".repeat(513)}`,
    ]) {
      expect(other).not.toMatch(SECRET_ARN_PATTERN);
      expect(() =>
        validateClusterProperties({ ...SCRAM_CLUSTER, "aws.secrets.manager.arn": other }, "api"),
      ).toThrow(/must be a Secrets Manager secret ARN/);
    }
  });
});

const BOUND = "https://abc.env.eu.restate.cloud:8080";

describe("credentialFromSecretString", () => {
  it("reads {token, endpoints}: the token trimmed, each endpoint as origin and path prefix", () => {
    expect(
      credentialFromSecretString(
        ARN,
        JSON.stringify({
          token: ` ${TOKEN}\n`,
          endpoints: [`${BOUND}/`, "https://GW.Example.com:443/restate/", "http://127.0.0.1:8080"],
        }),
      ),
    ).toEqual({
      token: TOKEN,
      endpoints: [
        { origin: BOUND, path: "" },
        { origin: "https://gw.example.com", path: "/restate" },
        { origin: "http://127.0.0.1:8080", path: "" },
      ],
    });
  });

  it("reads a bare token or JSON without endpoints as bound to nothing", () => {
    expect(credentialFromSecretString(ARN, `  ${TOKEN}\n`)).toEqual({
      token: TOKEN,
      endpoints: [],
    });
    expect(credentialFromSecretString(ARN, JSON.stringify({ token: TOKEN }))).toEqual({
      token: TOKEN,
      endpoints: [],
    });
  });

  it.each([
    ["empty", ""],
    ["spaces inside", `Bearer ${TOKEN}`],
    ["a line break", `${TOKEN}\r\nx-injected: 1`],
    ["non-ASCII", `${TOKEN}é`],
    ["JSON without token", JSON.stringify({ value: TOKEN })],
    ["JSON with a non-string token", JSON.stringify({ token: 42 })],
    ["broken JSON", `{"token": "${TOKEN}"`],
    ["endpoints not a list", JSON.stringify({ token: TOKEN, endpoints: BOUND })],
    ["an endpoint not a URL", JSON.stringify({ token: TOKEN, endpoints: ["abc.example"] })],
    ["an endpoint not http(s)", JSON.stringify({ token: TOKEN, endpoints: ["ftp://a.example"] })],
    [
      "an endpoint with credentials",
      JSON.stringify({ token: TOKEN, endpoints: ["https://u:p@a.example"] }),
    ],
    [
      "an endpoint with a query",
      JSON.stringify({ token: TOKEN, endpoints: ["https://a.example?x"] }),
    ],
  ])("refuses %s, naming the ARN and never the value", (_, secret) => {
    let caught: unknown;
    try {
      credentialFromSecretString(ARN, secret);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SecretUnavailableError);
    const error = caught as SecretUnavailableError;
    expect(error.secretRef).toBe(ARN);
    expect(error.message).toContain(ARN);
    expect(error.message).not.toContain(TOKEN);
  });
});

describe("tokenRefusal", () => {
  const endpoints = credentialFromSecretString(
    ARN,
    JSON.stringify({ token: TOKEN, endpoints: [BOUND, "https://gw.example.com/restate"] }),
  ).endpoints;

  it("lets the token go to a bound origin, and under a bound path prefix only", () => {
    for (const url of [
      `${BOUND}/Orders/process`,
      "https://abc.env.eu.restate.cloud:8080/Orders/k%2F1/process/send",
      "https://GW.example.com/restate/Orders/process",
      "https://gw.example.com:443/restate",
    ]) {
      expect(tokenRefusal(ARN, endpoints, url), url).toBeUndefined();
    }
  });

  it.each([
    ["another host", "https://evil.example/Orders/process", "https://evil.example"],
    [
      "another port",
      "https://abc.env.eu.restate.cloud:8443/Orders/p",
      "https://abc.env.eu.restate.cloud:8443",
    ],
    [
      "plain http",
      "http://abc.env.eu.restate.cloud:8080/Orders/p",
      "http://abc.env.eu.restate.cloud:8080",
    ],
    [
      "a suffix of the host",
      "https://abc.env.eu.restate.cloud.evil.example:8080/x",
      "https://abc.env.eu.restate.cloud.evil.example:8080",
    ],
    [
      "userinfo that looks like the host",
      "https://abc.env.eu.restate.cloud:8080@evil.example/x",
      "https://evil.example",
    ],
  ])("refuses %s, naming the origin and the rule", (_, url, origin) => {
    expect(tokenRefusal(ARN, endpoints, url)).toBe(
      `the token in ${ARN} is not bound to ${origin}; add the origin to the secret's "endpoints"`,
    );
  });

  it("refuses a bound origin outside the path prefix, also through dot segments", () => {
    for (const url of [
      "https://gw.example.com/other/Orders/process",
      "https://gw.example.com/restatex/Orders/process",
      "https://gw.example.com/restate/../admin/Orders/process",
      "https://gw.example.com/restate/%2e%2e/admin",
    ]) {
      expect(tokenRefusal(ARN, endpoints, url), url).toMatch(
        /^the token in .* is bound to https:\/\/gw.example.com\/restate, not to https:\/\/gw.example.com\//,
      );
    }
  });

  it("refuses everything for a secret bound to nothing, saying how to bind it", () => {
    expect(tokenRefusal(ARN, [], `${BOUND}/Orders/process`)).toBe(
      `the token in ${ARN} is bound to no endpoint, so it is not sent to ${BOUND}: store the secret as ` +
        `{"token": "...", "endpoints": ["https://host[:port][/prefix]"]} naming ${BOUND}`,
    );
  });
});

describe("cachedSecretResolver", () => {
  it("fetches once per TTL per secret, then again after it expires", async () => {
    let clock = 0;
    const fetched: string[] = [];
    const resolver = cachedSecretResolver(
      async (ref) => {
        fetched.push(ref);
        return `${ref}#${fetched.length}`;
      },
      { ttlMs: 1_000, now: () => clock },
    );
    expect(await resolver.resolve("a")).toBe("a#1");
    clock = 999;
    expect(await resolver.resolve("a")).toBe("a#1");
    expect(await resolver.resolve("b")).toBe("b#2");
    clock = 1_000;
    expect(await resolver.resolve("a")).toBe("a#3");
    expect(fetched).toEqual(["a", "b", "a"]);
  });

  it("forgets a value the sink rejected, so the next resolve reads the secret again", async () => {
    let fetches = 0;
    const resolver = cachedSecretResolver(async () => `token-${++fetches}`, { ttlMs: 60_000 });
    expect(await resolver.resolve("a")).toBe("token-1");
    expect(await resolver.resolve("a")).toBe("token-1");
    resolver.forget?.("a");
    expect(await resolver.resolve("a")).toBe("token-2");
  });

  it("shares one fetch between concurrent callers", async () => {
    const pending = deferred<string>();
    let calls = 0;
    const resolver = cachedSecretResolver(
      () => {
        calls++;
        return pending.promise;
      },
      { ttlMs: 60_000 },
    );
    const all = Promise.all([resolver.resolve(ARN), resolver.resolve(ARN), resolver.resolve(ARN)]);
    pending.resolve(TOKEN);
    expect(await all).toEqual([TOKEN, TOKEN, TOKEN]);
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
    expect(calls).toBe(1);
  });

  it("does not cache failures: every waiter sees the error, the next call fetches again", async () => {
    let calls = 0;
    const resolver = cachedSecretResolver(
      async (ref) => {
        calls++;
        if (calls === 1) throw new SecretUnavailableError(ref, `cannot read secret ${ref}`);
        return TOKEN;
      },
      { ttlMs: 60_000 },
    );
    const results = await Promise.allSettled([resolver.resolve(ARN), resolver.resolve(ARN)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await resolver.resolve(ARN)).toBe(TOKEN);
    expect(calls).toBe(2);
  });

  it("a synchronous throw in fetch becomes a rejection", async () => {
    const resolver = cachedSecretResolver(
      () => {
        throw new Error("boom");
      },
      { ttlMs: 0 },
    );
    await expect(resolver.resolve(ARN)).rejects.toThrow("boom");
  });

  it("TTL 0 fetches every time", async () => {
    let calls = 0;
    const resolver = cachedSecretResolver(async () => `t${++calls}`, { ttlMs: 0 });
    expect(await resolver.resolve(ARN)).toBe("t1");
    expect(await resolver.resolve(ARN)).toBe("t2");
  });
});

describe("authorizationFor", () => {
  it("is undefined without auth, Bearer <token> with its endpoints with it, and fails clearly without a resolver", async () => {
    const endpoints = [{ origin: BOUND, path: "" }];
    const secrets = { resolve: async () => ({ token: TOKEN, endpoints }) };
    expect(await authorizationFor(undefined, secrets)).toBeUndefined();
    expect(await authorizationFor({ bearer_token_secret: ARN }, secrets)).toEqual({
      secretRef: ARN,
      header: `Bearer ${TOKEN}`,
      endpoints,
    });
    await expect(authorizationFor({ bearer_token_secret: ARN }, undefined)).rejects.toThrow(
      `secret ${ARN} cannot be read`,
    );
  });
});

describe("localSecretResolver (LOCAL_SECRETS)", () => {
  it("resolves ARNs from the JSON map: the secret string, or its JSON object as is", async () => {
    const other = `${ARN}-2`;
    const bare = `${ARN}-3`;
    const resolver = localSecretResolver({
      LOCAL_SECRETS: JSON.stringify({
        [ARN]: JSON.stringify({ token: TOKEN, endpoints: [BOUND] }),
        [other]: { token: "t2", endpoints: ["http://127.0.0.1:8080"] },
        [bare]: TOKEN,
      }),
    });
    expect(await resolver.resolve(ARN)).toEqual({
      token: TOKEN,
      endpoints: [{ origin: BOUND, path: "" }],
    });
    expect(await resolver.resolve(other)).toEqual({
      token: "t2",
      endpoints: [{ origin: "http://127.0.0.1:8080", path: "" }],
    });
    expect(await resolver.resolve(bare)).toEqual({ token: TOKEN, endpoints: [] });
  });

  it("fails clearly for a missing ARN, and at start for a malformed map, never echoing it", async () => {
    const empty = localSecretResolver({});
    await expect(empty.resolve(ARN)).rejects.toThrow(`secret ${ARN} is not in LOCAL_SECRETS`);
    for (const bad of [
      `{"${ARN}": "${TOKEN}"`,
      `["${TOKEN}"]`,
      `{"${ARN}": 1}`,
      `{"${ARN}": ["${TOKEN}"]}`,
    ]) {
      let message = "";
      try {
        localSecretResolver({ LOCAL_SECRETS: bad });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^LOCAL_SECRETS must be a JSON object/);
      expect(message).not.toContain(TOKEN);
    }
  });
});
