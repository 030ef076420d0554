// The official TypeScript MCP SDK client (@modelcontextprotocol/sdk) runs its own OAuth flow
// against our servers (401 -> PRM -> AS metadata -> dynamic registration -> PKCE -> token),
// then uses tools (including progress over SSE), resources and prompts.
//
// Usage (from a folder where `npm install @modelcontextprotocol/sdk` was run):
//   node /path/to/ts_sdk_client.cjs http://127.0.0.1:PORT/mcp
// The authorization server must auto-approve (ours does for loopback redirect URIs).
const path = require("node:path");
const { createRequire } = require("node:module");
const req = createRequire(path.join(process.cwd(), "package.json"));
const { Client } = req("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = req("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { UnauthorizedError } = req("@modelcontextprotocol/sdk/client/auth.js");

const mcpUrl = new URL(process.argv[2]);
const REDIRECT = "http://127.0.0.1:53682/callback";

class Provider {
  constructor() { this.info = undefined; this.toks = undefined; this.verifier = undefined; this.code = undefined; this.visits = 0; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return { client_name: "ts-sdk-interop", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"], token_endpoint_auth_method: "none", scope: "mcp" };
  }
  clientInformation() { return this.info; }
  saveClientInformation(i) { this.info = i; }
  tokens() { return this.toks; }
  saveTokens(t) { this.toks = t; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    this.visits += 1;
    const r = await fetch(url, { redirect: "manual" });
    const loc = r.headers.get("location");
    if (!loc) throw new Error(`authorization endpoint answered ${r.status} without a redirect`);
    const q = new URL(loc).searchParams;
    if (q.get("error")) throw new Error(`authorization error ${q.get("error")}`);
    this.code = q.get("code");
  }
}

function check(cond, msg) { if (!cond) { console.error("FAILED:", msg); process.exit(1); } }

(async () => {
  const provider = new Provider();
  const client = new Client({ name: "ts-sdk-interop", version: "1.0.0" });
  let transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
  try {
    await client.connect(transport);
  } catch (e) {
    check(e instanceof UnauthorizedError, `expected UnauthorizedError, got ${e}`);
    await transport.finishAuth(provider.code);
    transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await client.connect(transport);
  }
  check(provider.visits === 1, "one login");
  check(provider.info && provider.info.client_id, "dynamic registration");
  console.log("negotiated protocol version:", transport.protocolVersion);
  console.log("session id present:", Boolean(transport.sessionId));
  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name);
  check(["echo", "add", "whoami", "slow_task"].every((n) => names.includes(n)), `tools ${names}`);
  const echo = await client.callTool({ name: "echo", arguments: { message: "hello ts" } });
  check(echo.content[0].text === "hello ts", "echo");
  const who = await client.callTool({ name: "whoami", arguments: {} });
  check(who.structuredContent.client_id === provider.info.client_id, "whoami client_id");
  const weather = await client.callTool({ name: "get_weather", arguments: { city: "Oslo" } });
  check(weather.structuredContent.city === "Oslo", "outputSchema tool validated by the SDK");
  const fails = await client.callTool({ name: "always_fails", arguments: {} });
  check(fails.isError === true, "isError");
  const progress = [];
  const slow = await client.callTool({ name: "slow_task", arguments: { steps: 3, delay_ms: 20 } }, undefined,
    { onprogress: (p) => progress.push(p.progress) });
  check(slow.content[0].text === "completed 3 steps", "slow_task");
  check(progress.join(",") === "1,2,3", `progress over SSE: ${progress}`);
  const res = await client.listResources();
  check(res.resources.length > 0, "resources");
  const read = await client.readResource({ uri: res.resources[0].uri });
  check(read.contents.length > 0, "read resource");
  const prompts = await client.listPrompts();
  check(prompts.prompts.length === 2, "prompts");
  const p = await client.getPrompt({ name: "explain_concept", arguments: { concept: "PKCE" } });
  check(p.messages[0].content.text.includes("PKCE"), "prompt");
  await client.ping();
  await transport.terminateSession();
  await client.close();
  console.log("TypeScript SDK interop: OK");
})().catch((e) => { console.error("FAILED:", e); process.exit(1); });
