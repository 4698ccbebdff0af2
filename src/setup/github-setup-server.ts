// The local web page of `orchestrator setup github`: posts app.yml to GitHub, receives the code, writes .env.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mergeEnvFile } from "./env-file.js";
import { convertManifestCode, createAppUrl, credentialsEnv, readManifest, type GithubAppManifest, type ManifestConversion } from "./github-manifest.js";

export interface GithubSetupOptions {
  readonly manifestFile: string | URL;
  readonly envFile: string;
  /** 127.0.0.1 port of the setup page; 0 picks a free one. */
  readonly port: number;
  readonly webhookUrl: string;
  readonly org?: string;
  readonly gheHost?: string;
  readonly name?: string;
}

export interface GithubSetupResult {
  readonly app: ManifestConversion;
  /** Where the user installs the new App on their repositories. */
  readonly installUrl: string;
}

export interface GithubSetup {
  /** The page to open in a browser. */
  readonly url: string;
  /** Resolves once GitHub has redirected back and the credentials are in the env file. */
  readonly done: Promise<GithubSetupResult>;
  close(): Promise<void>;
}

export async function startGithubSetup(opts: GithubSetupOptions): Promise<GithubSetup> {
  // GitHub echoes `state` back on the redirect; a code arriving without it was not started here.
  const state = randomBytes(16).toString("hex");
  let finish!: (r: GithubSetupResult) => void;
  const done = new Promise<GithubSetupResult>((resolve) => (finish = resolve));
  let exchanging = false;
  // Read once the port is known (its redirect URL names it), before the first page is served.
  let manifest!: GithubAppManifest;

  const server = http.createServer((req, res) => {
    const reqUrl = new URL(req.url ?? "/", "http://127.0.0.1");
    const send = (status: number, html: string) => res.writeHead(status, { "content-type": "text/html; charset=utf-8" }).end(page(html));
    if (req.method !== "GET") return send(405, "<p>Only GET is served here.</p>");
    if (reqUrl.pathname === "/") {
      const action = createAppUrl({ org: opts.org, gheHost: opts.gheHost, state });
      return send(
        200,
        `<h1>Create the ${escapeHtml(manifest.name)} GitHub App</h1>
<p>GitHub will ask you to confirm the App's name, permissions and events (from app.yml), then send you back here.</p>
<p>Deliveries will go to <code>${escapeHtml(opts.webhookUrl)}</code>.</p>
<form action="${escapeHtml(action)}" method="post">
<input type="hidden" name="manifest" value="${escapeHtml(JSON.stringify(manifest))}">
<button type="submit">Create GitHub App on ${escapeHtml(opts.gheHost ?? "github.com")}${opts.org ? ` for ${escapeHtml(opts.org)}` : ""}</button>
</form>`,
      );
    }
    if (reqUrl.pathname === "/callback") {
      const code = reqUrl.searchParams.get("code");
      if (reqUrl.searchParams.get("state") !== state) return send(400, "<p>This redirect was not started by this setup page (state does not match). Start again from the setup page.</p>");
      if (!code || !/^[\w-]+$/.test(code)) return send(400, "<p>The redirect has no valid <code>code</code> parameter.</p>");
      if (exchanging) return send(409, "<p>The App is already being created; see the terminal.</p>");
      exchanging = true;
      convertManifestCode(code, { gheHost: opts.gheHost })
        .then((app) => {
          mergeEnvFile(opts.envFile, credentialsEnv(app));
          const installUrl = `${app.html_url}/installations/new`;
          send(
            200,
            `<h1>${escapeHtml(app.slug)} is created</h1>
<p>Its id, private key and webhook secret are in <code>${escapeHtml(opts.envFile)}</code>.</p>
<p>Next: <a href="${escapeHtml(installUrl)}">install it on your repositories</a>, then run <code>orchestrator serve</code>.</p>`,
          );
          finish({ app, installUrl });
        })
        .catch((err: unknown) => {
          exchanging = false;
          send(502, `<p>GitHub did not convert the code: ${escapeHtml(err instanceof Error ? err.message : String(err))}. Codes expire after an hour and work once; start again from the setup page.</p>`);
        });
      return;
    }
    return send(404, '<p>Not here: open <a href="/">the setup page</a>.</p>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, "127.0.0.1", resolve);
  });
  const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // A browser keeps its connection open; it must not hold the command up.
      server.closeAllConnections();
    });
  try {
    // A bad app.yml is reported now, not as a failure of the page the browser asks for.
    manifest = readManifest(opts.manifestFile, { webhookUrl: opts.webhookUrl, redirectUrl: `${base()}/callback`, name: opts.name });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: base(),
    done,
    close,
  };
}

function page(body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Scintilla Orchestrator setup</title></head><body style="font-family:system-ui;max-width:40em;margin:3em auto">${body}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
