// `orchestrator setup github`: creates the GitHub App from app.yml through GitHub's manifest flow and writes its credentials to .env.
import path from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { SmeeClient } from "smee-client";
import { mergeEnvFile } from "../../setup/env-file.js";
import { defaultManifestFile } from "../../setup/github-manifest.js";
import { startGithubSetup } from "../../setup/github-setup-server.js";
import type { CliContext } from "../context.js";

interface GithubSetupFlags {
  org?: string;
  gheHost?: string;
  port: number;
  envFile: string;
  webhookUrl?: string;
  name?: string;
  manifest?: string;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number (0-65535).");
  return n;
}

export default function register(program: Command, ctx: CliContext): void {
  const setup = program.command("setup").description("One-time setup of the forge integrations.");
  setup
    .command("github")
    .description("Create the GitHub App from app.yml in your browser and write APP_ID, PRIVATE_KEY and WEBHOOK_SECRET to the env file.")
    .option("--org <login>", "create the App for this organization instead of your personal account")
    .option("--ghe-host <host>", "GitHub Enterprise Server host name (default: GHE_HOST, else github.com)")
    .option("--port <port>", "local port of the setup page on 127.0.0.1", portNumber, 3000)
    .option("--env-file <file>", "dotenv file to write the credentials to (other lines are kept)", ".env")
    .option("--webhook-url <url>", "where GitHub sends deliveries (default: WEBHOOK_PROXY_URL, else PUBLIC_URL/api/github/webhooks, else a new smee.io channel)")
    .option("--name <name>", "App name, instead of app.yml's (names are unique per GitHub host)")
    .option("--manifest <file>", "manifest to use instead of the bundled app.yml")
    .action(async (flags: GithubSetupFlags) => {
      const config = ctx.config();
      const envFile = path.resolve(flags.envFile);
      let webhookUrl = flags.webhookUrl ?? config.github.webhookProxyUrl ?? (config.server.publicUrl && new URL("/api/github/webhooks", config.server.publicUrl).href);
      if (!webhookUrl) {
        // Like Probot: with no public URL yet, a smee.io channel relays deliveries to `orchestrator serve`.
        webhookUrl = await SmeeClient.createChannel();
        mergeEnvFile(envFile, { WEBHOOK_PROXY_URL: webhookUrl });
        process.stdout.write(`Created the webhook relay channel ${webhookUrl} (WEBHOOK_PROXY_URL in ${flags.envFile}).\n`);
      }
      const flow = await startGithubSetup({
        manifestFile: flags.manifest ? path.resolve(flags.manifest) : defaultManifestFile,
        envFile,
        port: flags.port,
        webhookUrl,
        org: flags.org,
        gheHost: flags.gheHost ?? config.github.host,
        name: flags.name,
      });
      process.stdout.write(`Open ${flow.url} in your browser to create the GitHub App (Ctrl-C to cancel).\n`);
      const { app, installUrl } = await flow.done;
      await flow.close();
      process.stdout.write(
        `Created the GitHub App ${app.slug} (id ${app.id}); APP_ID, PRIVATE_KEY and WEBHOOK_SECRET are in ${flags.envFile}.\n` +
          `Install it on your repositories: ${installUrl}\nThen start the server: orchestrator serve\n`,
      );
    });
}
