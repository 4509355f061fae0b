#!/usr/bin/env node
// The pgauth command: the compiled CLI in dist/ (built by `npm run build`, shipped in the package).
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
