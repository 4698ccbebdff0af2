// zod/mini with English messages, for the schemas a workflow engine process loads (ledger entries, workflow definitions).
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

/*
 * zod/mini is the same validator as zod classic without the chainable methods, and tree-shakes
 * to a few tens of KB where classic bundles to ~750 KB and ~12 MiB of RSS once loaded. The engine
 * process keeps 10,000 parked runs within a few MiB of bare Node, so the schemas it loads are
 * written with it. mini ships without messages; classic sets English on first use, so setting it
 * here too makes both report the same text.
 */
config(en());

// Import as a namespace (`import * as z from ".../zod-mini.js"`): the bundler then keeps only what is used.
export * from "zod/mini";
