'use strict';
// serverless loads a local plugin with require(), which cannot load TypeScript: the plugin (src/) is
// bundled into dist/ (git-ignored) by `npm run build:offline-kafka` — run by npm's prepare, prestart and
// pretest — and rebuilt here whenever dist is missing or older than its sources, so a fresh clone or an
// edited source never runs stale code.
module.exports = require(require('./build').ensureBuilt());
